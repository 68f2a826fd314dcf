import ArgumentParser

struct Tracker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start, list, stop and swap trackers in a running `eunomia server`, and stream their records.",
        discussion: """
            These talk to the server's Unix socket (default /run/eunomia/eunomia.sock), or with
            --server http://127.0.0.1:PORT over TCP with the token in --token-file (default STORE/server.token).

              eunomia tracker start opensnoop --id opens --param failed
              eunomia tracker list
              eunomia tracker events opens
              eunomia tracker swap opens 0.2.0
              eunomia tracker stop opens
            """,
        subcommands: [TrackerStart.self, TrackerList.self, TrackerStop.self, TrackerSwap.self, TrackerEvents.self])
}
