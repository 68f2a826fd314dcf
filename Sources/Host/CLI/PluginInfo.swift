import ArgumentParser
import CHostSupport
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

extension Plugin {
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe a plugin: parameters and event fields.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "NAME or NAME@VERSION.") var plugin: String

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                let p = try store.resolve(plugin)
                print("\(p.name) \(p.version)  (build \(p.buildID), ABI \(p.manifest.abi))")
                print("  \(TerminalText.sanitized(p.schema.description))")
                print("  installed in \(p.directory.path)")
                switch p.provenance {
                case .unsigned: print("  unsigned: installed with --allow-unsigned, no trusted key signed it\n")
                case .signed(let vouchers):
                    for v in vouchers { print("  signed by \(v.key.label), fingerprint \(v.key.key.fingerprint)") }
                    print()
                }
                print("Parameters (--param KEY=VALUE):")
                printTable(header: ["NAME", "TYPE", "DEFAULT", "DESCRIPTION"], rows: p.schema.parameters.map { param in
                    var desc = param.description
                    if param.min != nil || param.max != nil { desc += " [\(param.min.map(String.init) ?? "")..\(param.max.map(String.init) ?? "")]" }
                    if let e = param.enum { desc += " {\(e.joined(separator: ","))}" }
                    return [param.name, param.type.rawValue, param.default.description, desc]
                }, indent: "  ")
                for record in p.schema.records {
                    switch record.kind {
                    case .event: print("\nEvent '\(record.name)' (\(record.size) bytes max):")
                    case .row:
                        var how = record.sort.map { ", sorted by \($0)" } ?? ""
                        if let limit = record.limit { how += ", at most \(limit) rows" }
                        print("\nReport rows '\(record.name)' (\(record.size) bytes\(how)):")
                    case .histogram: print("\nReport histogram '\(record.name)' (\(record.size) bytes; other fields are its keys):")
                    }
                    printTable(header: ["FIELD", "TYPE", "DISPLAY", "COLUMN"], rows: record.fields.map { f in
                        var col = f.header
                        if f.hidden == true { col += " (json/csv only)" } else if let c = f.whenCondition { col += c.negated ? " (without \(c.parameter))" : " (with \(c.parameter))" }
                        var display = f.display?.rawValue ?? "-"
                        if f.type == .stack { display = "\(f.stack?.rawValue ?? "") stack, symbolized" }
                        if f.type == .histogram { display = "log2, \(f.unit ?? "value")"; col = "-" }
                        return [f.name, f.type.rawValue, display, col]
                    }, indent: "  ")
                }
            }
        }
    }
}
