import Foundation
import KestrelImage
import KestrelKernels

/// Errors from engine operations, each with what to do next.
public enum EngineError: Error, CustomStringConvertible, Sendable {
    case badTemplate(String)
    case noLabels
    case vocabularyNotFound(searched: [String])
    case preprocessMismatch(crop: String, model: Int, folder: String)
    case noCatalog(String)
    /// `DIR/store` is there but cannot be a store: the folder and what is wrong with it.
    case badStoreFolder(String, String)
    case lockFailed(String, String)
    case readOnlyCatalog(String)
    case indexBuildFailed(String, String)
    /// An index type asked for needs more vectors to train than the store holds.
    case tooFewVectorsToTrain(spec: String, factory: String, need: Int, have: Int)
    /// An index type asked for could not be trained, filled or searched by FAISS; nothing changed.
    case indexTypeFailed(spec: String, factory: String, items: Int, reason: String)
    case noSuchItem(UInt64, index: String)
    case dimensionMismatch(query: Int, index: Int)
    /// The index's image vectors were made with one `--orientation` setting, this run's with the other.
    case orientationMismatch(index: String, recorded: OrientationHandling, requested: OrientationHandling)
    /// The index's image vectors were made at one `--precision`, this run's at another.
    case precisionMismatch(index: String, recorded: Precision, requested: Precision)
    /// The index's image vectors were made with one `--jpeg-decode` setting, this run's with the other.
    case jpegDecodingMismatch(index: String, recorded: JPEGDecoding, requested: JPEGDecoding)
    /// A number handed to the library is outside its range: the parameter's name and why.
    case badArgument(String, String)

    public var description: String {
        switch self {
        case .badTemplate(let t):
            return "template \"\(t)\" must contain exactly one {} where the class name goes"
        case .noLabels:
            return "no class labels given: pass --labels \"cat,dog\" or --labels-file FILE"
        case .preprocessMismatch(let crop, let model, let folder):
            return "\(folder): the preprocessing gives \(crop) px images but the vision tower takes \(model) px; fix preprocessor_config.json / preprocess_cfg"
        case .noCatalog(let dir):
            return "\(dir) holds no Kestrel index; create one with `kestrel index add --index \(dir) --model MODEL PATH...`"
        case .badStoreFolder(let folder, let problem):
            return "\(folder) \(problem); nothing was changed ---> HINT: restore the index folder from a backup,"
                + " or re-create the index in a new folder with `kestrel index add --index NEWDIR --model MODEL PATH...`"
        case .indexBuildFailed(let dir, let reason):
            return "\(dir): cannot build the index from the vectors in its store: \(reason)"
                + " (the store may hold damaged vectors: `kestrel index stats --index \(dir)` and `kestrel index list` show what it holds)"
        case .tooFewVectorsToTrain(let spec, let factory, let need, let have):
            let what = spec == factory ? factory : "\(spec) (\(factory) at this size)"
            return "--index-type \(what): \(factory) needs at least \(need) vectors to train, the store holds \(have);"
                + " the index in place and its type are unchanged"
                + " ---> HINT: use --index-type flat or hnsw until the store holds \(need) items\(fewerLists(factory, have))"
        case .indexTypeFailed(let spec, let factory, let items, let reason):
            return "--index-type \(spec): FAISS could not build a \(factory) index over the \(items) stored vectors (\(reason));"
                + " the index in place and its type are unchanged ---> HINT: --index-type flat and hnsw build at any size"
        case .readOnlyCatalog(let dir):
            return "\(dir): the index was opened for reading; open it for writing to save it"
        case .lockFailed(let dir, let reason):
            return "\(dir): cannot lock the index for writing: \(reason)"
        case .noSuchItem(let id, let index):
            return "no item with id \(id) in the index at \(index) (see `kestrel index list --index \(index)`)"
        case .dimensionMismatch(let query, let index):
            return "the query vector has \(query) values, the index holds vectors of \(index); was it built with another model?"
        case .orientationMismatch(let index, let recorded, let requested):
            return "\(index): the index's image vectors were made with --orientation \(recorded.rawValue), this run uses --orientation \(requested.rawValue);"
                + " the two give different vectors for rotated photos, so they are not mixed in one index"
                + " ---> HINT: pass --orientation \(recorded.rawValue), or build a new index with `kestrel index add --index NEWDIR --orientation \(requested.rawValue) --model MODEL PATH...`"
        case .precisionMismatch(let index, let recorded, let requested):
            return "\(index): the index's image vectors were made at --precision \(recorded.rawValue), this run's would be made at \(requested.rawValue);"
                + " vectors of two precisions differ slightly, so they are not mixed in one index"
                + " ---> HINT: pass --precision \(recorded.rawValue), or build a new index with `kestrel index add --index NEWDIR --precision \(requested.rawValue) --model MODEL PATH...`"
        case .jpegDecodingMismatch(let index, let recorded, let requested):
            return "\(index): the index's image vectors were made with --jpeg-decode \(recorded.rawValue), this run uses --jpeg-decode \(requested.rawValue);"
                + " one index keeps one setting"
                + " ---> HINT: pass --jpeg-decode \(recorded.rawValue) (or leave the option out: index add follows the index), or build a new index with `kestrel index add --index NEWDIR --jpeg-decode \(requested.rawValue) --model MODEL PATH...`"
        case .badArgument(let name, let reason):
            return "\(name) \(reason)"
        case .vocabularyNotFound(let searched):
            return "the bundled CLIP vocabulary bpe_simple_vocab_16e6.txt.gz was not found (looked in: \(searched.joined(separator: ", "))); set KESTREL_VOCAB to its path or pass --vocab"
        }
    }
}

/// ", or an IVF with at most N lists" when fewer lists would train on `have` vectors.
private func fewerLists(_ factory: String, _ have: Int) -> String {
    guard factory.hasPrefix("IVF"), !factory.contains("PQ"), have >= 1 else { return "" }
    return ", or use fewer lists (IVF\(max(1, have / 39)) gets 39 training vectors per list)"
}
