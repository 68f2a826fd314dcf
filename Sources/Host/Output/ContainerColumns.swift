import EunomiaRecords

/// The container fields the encoders add to records that carry a cgroup id (schema role
/// cgroup_id): `"container":{...}` in JSON (only for a task in a container), four CSV
/// columns (empty outside one), and a table's CONTAINER cell (the 12-digit id, as `docker ps`
/// shows it; empty outside one). The metadata of the last cgroup seen is rendered once and
/// reused until the directory's generation moves, so a stream of events from one container
/// costs a comparison and a copy.
final class ContainerColumns {
    static let csvHeader = ",container,container_name,pod,pod_namespace"

    let directory: ContainerDirectory
    private var lastID: UInt64 = 0
    private var lastGeneration: UInt64 = .max
    private var json: [UInt8] = []
    private var csv: [UInt8] = []
    private var table: [UInt8] = []

    init(_ directory: ContainerDirectory) {
        self.directory = directory
    }

    @inline(__always) private func render(_ cgroupID: UInt64) {
        let generation = directory.generation
        if cgroupID == lastID && generation == lastGeneration { return }
        lastID = cgroupID
        lastGeneration = generation
        json.removeAll(keepingCapacity: true)
        csv.removeAll(keepingCapacity: true)
        table.removeAll(keepingCapacity: true)
        let out = OutputBuffer(capacity: 512) { _ in true }
        guard let c = directory.container(cgroupID: cgroupID) else {
            csv = Array(",,,,".utf8)
            return
        }
        out.append(StaticString(",\"container\":{\"id\":"))
        JSONText.appendString(Array(c.id.utf8), to: out)
        out.append(StaticString(",\"runtime\":"))
        JSONText.appendString(Array(c.runtime.utf8), to: out)
        for (key, value) in [("name", c.name), ("image", c.image), ("pod", c.podName), ("pod_namespace", c.podNamespace)] {
            guard let value else { continue }
            out.append(UInt8(ascii: ","))
            JSONText.appendString(Array(key.utf8), to: out)
            out.append(UInt8(ascii: ":"))
            JSONText.appendString(Array(value.utf8), to: out)
        }
        out.append(UInt8(ascii: "}"))
        json = out.contents
        out.reset()
        TableText.append(c.id, to: out)
        table = out.contents
        out.reset()
        for value in [c.id, c.name ?? "", c.podName ?? "", c.podNamespace ?? ""] {
            out.append(UInt8(ascii: ","))
            CSVText.append(value, to: out)
        }
        csv = out.contents
    }

    @inline(__always) func appendJSON(cgroupID: UInt64, to out: OutputBuffer) {
        render(cgroupID)
        if !json.isEmpty { out.append(json) }
    }

    /// True when the cgroup is a container's (the table then shows its column).
    @inline(__always) func isContainer(cgroupID: UInt64) -> Bool {
        render(cgroupID)
        return !json.isEmpty
    }

    @inline(__always) func appendTable(cgroupID: UInt64, to out: OutputBuffer) {
        render(cgroupID)
        out.append(table)
    }

    @inline(__always) func appendCSV(cgroupID: UInt64, to out: OutputBuffer) {
        render(cgroupID)
        out.append(csv)
    }
}
