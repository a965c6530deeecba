import KestrelIndex

extension VectorIndex {
    /// "efSearch=64 (recall@10 0.97 ...)" for the CLI, nil for exact indexes.
    public var searchParameterSummary: String? {
        if let tuning { return tuning.parameter == "none" ? nil : "\(tuning)" }
        let p = searchParameters
        if let e = p.efSearch { return "efSearch=\(e) (untuned)" }
        if let n = p.nprobe { return "nprobe=\(n) (untuned)" }
        return nil
    }
}
