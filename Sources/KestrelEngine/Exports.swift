// The engine is the one module apps import: it re-exports the layers below it.
@_exported import KestrelFiles
@_exported import KestrelImage
@_exported import KestrelKernels
@_exported import KestrelModels
@_exported import KestrelStore
@_exported import KestrelTokenizer
@_exported import KestrelIndex
@_exported import KestrelDefaultModel
