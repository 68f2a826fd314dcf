// [metrics] (docs/prometheus.md): how many label sets eunomia_plugin_events_total keeps per tracker.
extension DaemonConfig {
    /// [metrics]: max_label_sets only.
    static func parseMetrics(_ t: TOMLNode, _ where_: ConfigLocator) throws -> Int {
        for key in t.keys where key != "max_label_sets" {
            throw where_.error(section: "metrics", key: key, "unknown key in [metrics] (known: max_label_sets)")
        }
        guard let v = t["max_label_sets"] else { return Limits().maxLabelSets }
        let range = Limits.maxLabelSetsRange
        guard let i = v.int else { throw where_.typeError(section: "metrics", key: "max_label_sets", v, "an integer") }
        guard range.contains(i) else {
            throw where_.error(section: "metrics", key: "max_label_sets", "\(i) is out of range (\(range.lowerBound) to \(range.upperBound))")
        }
        return i
    }
}
