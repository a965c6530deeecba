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

    public var description: String {
        switch self {
        case .notAModelFolder(let url):
            return "\(url.path) is not a model folder: expected config.json + model.safetensors (Hugging Face) or open_clip_config.json + open_clip_model.safetensors (OpenCLIP)"
        case .missingFile(let url):
            return "missing file \(url.path)"
        case .unreadableConfig(let url, let reason):
            return "cannot read \(url.path): \(reason)"
        case .badConfigField(let file, let field, let reason):
            return "\(file.lastPathComponent): field \(field) \(reason)"
        case .unsupportedFeature(let file, let field, let reason):
            return "\(file.lastPathComponent): \(field) is not supported: \(reason)"
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
        }
    }
}
