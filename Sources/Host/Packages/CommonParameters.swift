import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The parameters the plugin helper implements for every tracker (eunomia_bpf.c and
/// bpf/eunomia.bpf.h), declared once here: a schema names them in `"common": [...]` and
/// `plugin pack` writes them out in full. A parameter the schema declares itself wins, for a
/// tracker whose convention differs (a pid that is another task's, another default).
package enum CommonParameters {
    package struct Definition {
        package let name: String
        /// Listed before the plugin's own parameters (filters), or after them (tuning).
        package let first: Bool
        package let json: JSONValue
    }

    package static let all: [Definition] = [
        filter("pid", ["type": .string("integer"), "default": .int(0), "min": .int(0), "max": .int(4_294_967_295),
                       "description": .string("Trace only this process (thread group) id; 0 traces all")]),
        filter("tid", ["type": .string("integer"), "default": .int(0), "min": .int(0), "max": .int(4_294_967_295),
                       "description": .string("Trace only this thread id; 0 traces all")]),
        filter("uid", ["type": .string("integer"), "default": .int(-1), "min": .int(-1), "max": .int(4_294_967_294),
                       "description": .string("Trace only this user id; -1 traces all")]),
        filter("comm", ["type": .string("string"), "default": .string(""), "max_length": .int(15),
                        "description": .string("Trace only processes whose command name is exactly this")]),
        filter("container", ["type": .string("string"), "default": .string(""), "max_length": .int(128),
                             "description": .string("Trace only this container: its id (a unique prefix of at least 4 hex digits) or its name; filtered in the kernel by the container's cgroups")]),
        tuning("ringbuf_kb", ["type": .string("integer"), "default": .int(512), "min": .int(4), "max": .int(1_048_576),
                              "description": .string("Ring buffer size in KiB (power of two); raise it if events are lost")]),
        tuning("interval", ["type": .string("integer"), "default": .int(0), "min": .int(0), "max": .int(86400),
                            "description": .string("Print a report every this many seconds; 0 prints one at the end")]),
        tuning("include_host", ["type": .string("boolean"), "default": .bool(false),
                                "description": .string("Also trace eunomia's own process, which is left out by default")]),
    ]

    package static var names: [String] { all.map(\.name) }

    package static func definition(_ name: String) -> Definition? { all.first { $0.name == name } }

    private static func filter(_ name: String, _ keys: [String: JSONValue]) -> Definition {
        Definition(name: name, first: true, json: .object(keys.merging(["name": .string(name)]) { a, _ in a }))
    }

    private static func tuning(_ name: String, _ keys: [String: JSONValue]) -> Definition {
        Definition(name: name, first: false, json: .object(keys.merging(["name": .string(name)]) { a, _ in a }))
    }

    /// The filters whose kernel check (eunomia_task_allowed) tests the task the event runs in:
    /// they push a `--filter` term down when the records carry a field of that name, by the
    /// convention that an event record's pid, tid, uid and comm are that task's.
    static let pushedDown: Set<String> = ["pid", "tid", "uid", "comm"]
}
