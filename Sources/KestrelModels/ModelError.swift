import Foundation

/// Errors from loading or running a model. Each names the file, key or field at fault and what to do.
public enum ModelError: Error, CustomStringConvertible, Sendable {
    case notAModelFolder(URL)
    case missingFile(URL)
    case unreadableConfig(URL, reason: String)
    case badConfigField(file: URL, field: String, reason: String)
    case unsupportedFeature(file: URL, field: String, reason: String)
    case safetensors(URL, reason: String)
    case unsupportedDType(file: URL, tensor: String, dtype: String)
    case missingTensor(file: URL, name: String)
    case misshapenTensor(file: URL, name: String, expected: [Int], found: [Int])
    case unusedTensors(file: URL, names: [String])
    case badTokenIDs(reason: String)
    case badPixels(expected: Int, found: Int)
    /// A path in the model folder that is a directory, FIFO, device or socket, not a file.
    case notARegularFile(URL, kind: String)
    /// A config file larger than any real one (`limit` bytes).
    case fileTooLarge(URL, bytes: Int, limit: Int)
    /// A tensor holding NaN or an infinity (`index` is the first such element, row-major).
    case nonFiniteTensor(file: URL, name: String, index: Int, value: Float)
    /// A tensor value out of the range the model can use.
    case badTensorValue(file: URL, name: String, reason: String)
    /// A tower produced NaN or an infinity (finite weights whose products overflow float32).
    case nonFiniteOutput(what: String, row: Int)
    /// The tokenizer's vocabulary does not fit the model's token embedding.
    case vocabularyMismatch(folder: URL, tokenizer: String, tokens: Int, modelTokens: Int)

    public var description: String {
        switch self {
        case .notAModelFolder(let url):
            return "\(url.path) is not a model folder: expected config.json + model.safetensors (Hugging Face) or open_clip_config.json + open_clip_model.safetensors (OpenCLIP)"
        case .missingFile(let url):
            return "missing file \(url.path)"
        case .unreadableConfig(let url, let reason):
            return "cannot read \(url.path): \(reason)"
        case .badConfigField(let file, let field, let reason):
            return "\(file.path): field \(field) \(reason)"
        case .unsupportedFeature(let file, let field, let reason):
            return "\(file.path): \(field) is not supported: \(reason)"
        case .safetensors(let url, let reason):
            return "\(url.path): not a valid safetensors file: \(reason)"
        case .unsupportedDType(let file, let tensor, let dtype):
            return "\(file.lastPathComponent): tensor \(tensor) has dtype \(dtype); supported: F32, F16, BF16"
        case .missingTensor(let file, let name):
            return "\(file.lastPathComponent): missing tensor \(name)"
        case .misshapenTensor(let file, let name, let expected, let found):
            return "\(file.lastPathComponent): tensor \(name) has shape \(found), the config needs \(expected)"
        case .unusedTensors(let file, let names):
            let shown = names.prefix(5).joined(separator: ", ")
            return "\(file.lastPathComponent): \(names.count) tensors not used by the architecture in the config (\(shown)\(names.count > 5 ? ", ..." : "")); is the config for this checkpoint?"
        case .badTokenIDs(let reason):
            return "bad token ids: \(reason)"
        case .badPixels(let expected, let found):
            return "image tensor has \(found) values, the vision tower needs \(expected) (3 x size x size)"
        case .notARegularFile(let url, let kind):
            return "\(url.path) is \(kind), not a regular file; the model folder needs the file itself (a symbolic link to one is fine)"
        case .fileTooLarge(let url, let bytes, let limit):
            return "\(url.path) is \(bytes / (1 << 20)) MB; a config file is at most \(limit / (1 << 20)) MB: is it the right file?"
        case .nonFiniteTensor(let file, let name, let index, let value):
            return "\(file.lastPathComponent): tensor \(name) holds a value that is not finite (\(value) at element \(index)); the checkpoint is damaged or was saved after training diverged"
        case .badTensorValue(let file, let name, let reason):
            return "\(file.lastPathComponent): tensor \(name) \(reason)"
        case .nonFiniteOutput(let what, let row):
            return "the model's \(what) is not finite for input \(row) of the batch (NaN or infinite): its weights or its preprocessing"
                + " (image_mean/image_std in preprocessor_config.json or preprocess_cfg) make values overflow float32; check the model folder"
        case .vocabularyMismatch(let folder, let tokenizer, let tokens, let modelTokens):
            return "\(folder.path): the tokenizer (\(tokenizer)) has \(tokens) tokens but the model's token embedding has \(modelTokens); put the model's own vocab.json and merges.txt in the folder"
        }
    }
}
