/// What one tracker instance's series say at one scrape, read from the counters that already
/// exist (the gate's, the kernel's lost count, the router's drops): nothing is counted twice.
public struct TrackerSample: Sendable {
    public var id: String
    public var plugin: String
    public var version: String
    public var running: Bool
    public var events: UInt64
    public var lost: UInt64
    public var malformed: UInt64
    /// Records dropped by each subscriber (outputs, API streams), by subscriber name.
    public var dropped: [String: UInt64]
    /// eunomia_plugin_events_total: label sets and counts (LabelSetCounter.snapshot).
    public var labelSets: [LabelSetSample]
    /// The kernel cost of its programs (nil: the plugin cannot name them, ABI < 1.3).
    public var bpfRunCount: UInt64?
    public var bpfRunTimeNs: UInt64?

    public init(id: String, plugin: String, version: String, running: Bool, events: UInt64, lost: UInt64,
                malformed: UInt64, dropped: [String: UInt64], labelSets: [LabelSetSample],
                bpfRunCount: UInt64? = nil, bpfRunTimeNs: UInt64? = nil) {
        self.id = id
        self.plugin = plugin
        self.version = version
        self.running = running
        self.events = events
        self.lost = lost
        self.malformed = malformed
        self.dropped = dropped
        self.labelSets = labelSets
        self.bpfRunCount = bpfRunCount
        self.bpfRunTimeNs = bpfRunTimeNs
    }
}

/// One admitted label set of a plugin's events and how many events carried it.
public struct LabelSetSample: Sendable {
    public var labels: [(String, String)]
    public var count: UInt64

    public init(labels: [(String, String)], count: UInt64) {
        self.labels = labels
        self.count = count
    }
}
