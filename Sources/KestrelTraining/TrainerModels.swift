import Foundation
import KestrelFiles
import KestrelImage
import KestrelModels
import KestrelTokenizer

extension TrainingSetup {
    /// The CLIP a recipe names, ready to train:
    /// - `{"init": ...}`: a new model of that shape, weights from `CLIPInitializer.random` with the
    ///   recipe's seed, a vocabulary of CLIP's first `vocab_merges` merges (`Vocabulary.clip`),
    ///   CLIP's mean and std;
    /// - `{"from": folder}`: the folder's weights (`CheckpointIO.load`, either layout), its
    ///   tokenizer and its preprocessor's mean and std.
    /// The export writes a Hugging Face folder (`ModelExport.saveHuggingFace`) with the vocabulary
    /// and the mean and std the model was trained with. A preprocessor config that exists but
    /// cannot be read is an error naming it.
    /// `bpeGzip`: CLIP's merge list (Vocab/bpe_simple_vocab_16e6.txt.gz).
    public static func clip(recipe: Recipe, recipeFile: URL?, bpeGzip: URL) throws -> (setup: TrainingSetup, graph: CLIPGraph) {
        let config: CLIPConfig, parameters: ParameterSet, vocabulary: Vocabulary, tokenizer: CLIPTokenizer
        var mean = PreprocessConfig.openAIMean, std = PreprocessConfig.openAIStd
        if let i = recipe.model.initial {
            vocabulary = try Vocabulary.clip(merges: i.vocabMerges, bpeGzip: bpeGzip)
            config = CLIPConfig(
                imageSize: i.imageSize, patchSize: i.patchSize,
                vision: TowerConfig(width: i.width, layers: i.layers, heads: i.heads, mlpWidth: i.mlpWidth, activation: i.activation),
                vocabSize: vocabulary.count, contextLength: i.contextLength,
                text: TowerConfig(width: i.textWidth, layers: i.textLayers, heads: i.textHeads, mlpWidth: i.textMlpWidth,
                                  activation: i.activation),
                endTokenID: vocabulary.endToken, embedDim: i.embedDim)
            parameters = CLIPInitializer.random(config: config, seed: recipe.seed)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kestrel-vocab-\(UUID().uuidString)")
            let cleanup = InterruptCleanup.register(dir)   // removed on Ctrl-C too
            defer { InterruptCleanup.release(cleanup, removing: true) }
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try vocabulary.write(to: dir)
            tokenizer = try CLIPTokenizer(vocabJSON: dir.appendingPathComponent("vocab.json"),
                                          merges: dir.appendingPathComponent("merges.txt"))
        } else {
            let folder = Recipe.resolve(recipe.model.from ?? "", relativeTo: recipeFile)
            let loaded = try CheckpointIO.load(folder)
            (config, parameters) = (loaded.config, loaded.parameters)
            tokenizer = try CLIPTokenizer(modelDirectory: folder, fallbackVocab: bpeGzip, normalization: loaded.layout.textNormalization)
            vocabulary = try exportVocabulary(folder: folder, vocabSize: config.vocabSize, bpeGzip: bpeGzip)
            // A preprocessor config that exists must be readable: its mean and std are the model's.
            let fm = FileManager.default
            if fm.fileExists(atPath: folder.appendingPathComponent("preprocessor_config.json").path)
                || fm.fileExists(atPath: folder.appendingPathComponent("open_clip_config.json").path) {
                let pre = try PreprocessConfig.load(modelDirectory: folder)
                if let m = pre.mean, let s = pre.std { (mean, std) = (m, s) }
            }
        }
        let graph = CLIPGraph(config: config, parameters: parameters)
        graph.regionLossWeight = Float(recipe.regionLossWeight ?? 0)
        let dtype: ModelExport.DType = recipe.exportDType == "f16" ? .f16 : .f32
        let setup = TrainingSetup(
            model: graph, imageSize: config.imageSize, contextLength: config.contextLength, tokenizer: tokenizer,
            mean: mean, std: std,
            export: { folder, _ in
                try ModelExport.saveHuggingFace(parameters: parameters, config: config, to: folder, dtype: dtype, vocabulary: vocabulary,
                                                mean: mean, std: std)
            })
        return (setup, graph)
    }
}

/// The vocabulary to export with a fine-tuned model: CLIP's first `vocabSize - 514` merges, which
/// must be the folder's own `vocab.json` when it has one (the full vocabulary when it has none).
func exportVocabulary(folder: URL, vocabSize: Int, bpeGzip: URL) throws -> Vocabulary {
    let merges = vocabSize - 514
    let vocabFile = folder.appendingPathComponent("vocab.json")
    let own = FileManager.default.contents(atPath: vocabFile.path)
    guard (0...Vocabulary.maxMerges).contains(merges), own != nil || merges == Vocabulary.maxMerges else {
        throw TrainingError.modelUnavailable(
            "model.from: \(folder.path) has a vocabulary of \(vocabSize) tokens that is not a prefix of CLIP's merges; Kestrel can fine-tune and export only CLIP's vocabulary or a truncation of it")
    }
    let vocabulary = try Vocabulary.clip(merges: merges, bpeGzip: bpeGzip)
    if let own {
        let theirs = try? JSONSerialization.jsonObject(with: own) as? [String: Int]
        let ours = try? JSONSerialization.jsonObject(with: vocabulary.vocabJSON()) as? [String: Int]
        guard let theirs, theirs == ours else {
            throw TrainingError.modelUnavailable(
                "model.from: \(vocabFile.path) is not CLIP's vocabulary truncated to \(merges) merges; Kestrel can fine-tune and export only those")
        }
    }
    return vocabulary
}

extension DataLoader.Options {
    /// The loader options a recipe and model setup imply.
    public init(recipe: Recipe, setup: TrainingSetup) {
        self.init(imageSize: setup.imageSize, contextLength: setup.contextLength)
        mean = setup.mean
        std = setup.std
        cropScale = (recipe.augmentation.cropScale[0], recipe.augmentation.cropScale[1])
        cropRatio = (recipe.augmentation.cropRatio[0], recipe.augmentation.cropRatio[1])
        flip = recipe.augmentation.flip
        softLabels = recipe.targets == "soft-label"
        regions = (recipe.regionLossWeight ?? 0) > 0
    }
}
