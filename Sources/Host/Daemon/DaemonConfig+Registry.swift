import EunomiaHost
import EunomiaRegistry
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension DaemonConfig {
    static let maxRegistries = 32

    /// [[registry]] tables: `url` (a directory, file:// or http(s)://) and optional `insecure`
    /// (plain http to a host that is not loopback).
    static func parseRegistries(_ value: TOMLNode, _ where_: ConfigLocator) throws -> [RegistryLocation] {
        guard let array = value.array else { throw where_.typeError(key: "registry", value, "tables [[registry]]") }
        guard array.count <= maxRegistries else { throw where_.error(key: "registry", "more than \(maxRegistries) registries") }
        var locations: [RegistryLocation] = []
        for index in 0..<array.count {
            guard let t = array[index].table else { throw where_.error(key: "registry", "entry \(index + 1) is not a table") }
            func fail(_ key: String, _ message: String) -> EunomiaError {
                where_.error(section: "registry", index: index, key: key, message)
            }
            let known = ["url", "insecure"]
            for key in t.keys where !known.contains(key) {
                throw fail(key, "unknown key in [[registry]] (known: \(known.joined(separator: ", ")))")
            }
            guard let urlValue = t["url"] else { throw fail("", "[[registry]] \(index + 1) has no url") }
            guard let url = urlValue.string else {
                throw where_.typeError(section: "registry", index: index, key: "url", urlValue, "a string: a directory or http(s)://HOST/PATH")
            }
            var insecure = false
            if let v = t["insecure"] {
                guard let b = v.bool else { throw where_.typeError(section: "registry", index: index, key: "insecure", v, "true or false") }
                insecure = b
            }
            do {
                let location = try RegistryLocation.parse(url, insecure: insecure)
                guard !locations.contains(location) else { throw EunomiaError("registry \(url.quotedForError) is listed twice") }
                locations.append(location)
            } catch let e as EunomiaError {
                throw fail("url", e.message)
            }
        }
        return locations
    }
}
