/// One build of a plugin, as reports and the API name it.
public struct BuildRef: Codable, Sendable, Equatable {
    public var plugin: String
    public var version: String
    public var build: String

    public init(plugin: String, version: String, build: String) {
        self.plugin = plugin
        self.version = version
        self.build = build
    }
}

/// What a hot swap did, returned by every swap (and by the API as JSON).
public struct SwapReport: Codable, Sendable, Equatable {
    public var tracker: String
    public var from: BuildRef
    public var to: BuildRef
    /// "cutover": each event delivered by exactly one version (the kernel-side ownership map,
    /// or the host comparing event times). "overlap": the schema has no event time and the
    /// builds share no cutover map, so both versions ran for `overlapMs` (events in that window
    /// may arrive twice).
    public var mode: String
    /// The cutover instant T, CLOCK_MONOTONIC ns: events from T on belong to the new version.
    public var cutoverNs: UInt64
    /// Calls in flight at T (begun before it) that the new version delivered through the
    /// handed-over maps by the time the old version was gone; later ones count in the
    /// tracker's counters (handedOver).
    public var handedOver: UInt64
    /// Records the host dropped because the other version delivered them (host-side cutover).
    public var duplicatesSuppressed: UInt64
    /// Records lost in the swap: the old version's ring-buffer losses while it was retired,
    /// plus calls left in entry maps that could not be handed over. Must be 0.
    public var lostInSwap: UInt64
    public var overlapMs: Double?
    /// Request to the old version being gone, in milliseconds.
    public var durationMs: Double
    /// Request to the new version attached and owning events (the cutover), in milliseconds.
    public var cutoverMs: Double
    public var carriedMaps: [String]
    public var notCarried: [String]

    /// The API's names (docs/http-api.md).
    enum CodingKeys: String, CodingKey {
        case tracker, from, to, mode
        case cutoverNs = "cutover_ns", handedOver = "handed_over", duplicatesSuppressed = "duplicates_suppressed"
        case lostInSwap = "lost_in_swap", overlapMs = "overlap_ms", durationMs = "duration_ms", cutoverMs = "cutover_ms"
        case carriedMaps = "carried_maps", notCarried = "not_carried"
    }

    /// Every key always present (overlap_ms null in a cutover), as the OpenAPI document says.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tracker, forKey: .tracker)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(mode, forKey: .mode)
        try c.encode(cutoverNs, forKey: .cutoverNs)
        try c.encode(handedOver, forKey: .handedOver)
        try c.encode(duplicatesSuppressed, forKey: .duplicatesSuppressed)
        try c.encode(lostInSwap, forKey: .lostInSwap)
        try c.encode(overlapMs, forKey: .overlapMs)
        try c.encode(durationMs, forKey: .durationMs)
        try c.encode(cutoverMs, forKey: .cutoverMs)
        try c.encode(carriedMaps, forKey: .carriedMaps)
        try c.encode(notCarried, forKey: .notCarried)
    }
}

/// A tracker's totals over every instance it has had.
public struct TrackerCounters: Codable, Sendable, Equatable {
    public var events: UInt64
    public var lost: UInt64
    public var malformed: UInt64
    /// Calls begun before a swap's cutover and delivered by the version after it (through the
    /// handed-over entry maps), over every swap; they may complete long after the swap.
    public var handedOver: UInt64 = 0
    /// Records the host dropped as delivered by the other version (host-side cutovers).
    public var duplicatesSuppressed: UInt64 = 0
}

public enum TrackerState: Equatable, Sendable {
    case running
    case failed(String)
    case stopped
}
