import CHostSupport
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a plugin library says about itself in its function table, read in a child process
/// (LibraryProbe) so that packing never runs plugin code in the host.
package struct LibraryIdentity: Codable, Equatable {
    package var name: String
    package var version: String
    package var abi: ABIVersion
    package init(name: String, version: String, abi: ABIVersion) {
        self.name = name
        self.version = version
        self.abi = abi
    }
}

/// Turns the schema an author writes into the complete one a package holds:
/// - `"common": [...]` names parameters declared once in CommonParameters;
/// - a record naming its `btf_struct` may leave out its size, and each field its offset, size
///   and type: they come from the BPF object's BTF (the member named by `member`, else the
///   field's name). A typedef named `eunomia_HINT` on the member's type (bpf/eunomia.bpf.h
///   declares them: eunomia_timestamp, eunomia_errno, ...) gives the display hint or role;
/// - the ABI comes from the library when the schema leaves it out, and name, version and ABI
///   must agree with the library's table.
/// The result is the same schema with everything spelled out; completing it again changes nothing.
package enum SchemaCompletion {
    /// `abiFallback`: the ABI to record when the schema has none and no library is checked (lint).
    package static func complete(_ data: Data, bpfObject: URL, library: LibraryIdentity?, libraryName: String = "the library",
                                 abiFallback: ABIVersion? = nil) throws -> Data {
        guard data.count <= PluginSchema.maxSize else {
            throw EunomiaError("schema.json: \(data.count) bytes, more than the \(PluginSchema.maxSize >> 10) KiB a schema may have")
        }
        var root: JSONValue
        do { root = try JSONValue.decode(data) } catch { throw EunomiaError("schema.json: not valid JSON") }
        guard root.isObject else { throw EunomiaError("schema.json: not a JSON object") }
        if let library { root = try checkIdentity(root, library, libraryName) }
        if root["abi"] == nil, let abi = abiFallback { root["abi"] = .object(["major": .int(Int64(abi.major)), "minor": .int(Int64(abi.minor))]) }
        if case .array(let records)? = root["records"] {
            root["records"] = .array(try records.map { try completeRecord($0, bpfObject: bpfObject) })
        }
        // After the records: which common filters push down depends on their fields.
        root = try expandCommon(root)
        return try root.encoded()
    }

    // MARK: Common parameters

    static func expandCommon(_ root: JSONValue) throws -> JSONValue {
        guard let common = root["common"] else { return root }
        guard let list = common.array, list.count <= CommonParameters.all.count else {
            throw EunomiaError("schema.json: common must be a list of names from: \(CommonParameters.names.joined(separator: ", "))")
        }
        var root = root
        let own = root["parameters"]?.array ?? []
        let ownNames = Set(own.compactMap { $0["name"]?.string })
        var first: [JSONValue] = []
        var last: [JSONValue] = []
        var seen = Set<String>()
        for entry in list {
            guard let name = entry.string, let def = CommonParameters.definition(name) else {
                let shown = entry.string.map { $0.quotedForError } ?? "a non-string entry"
                throw EunomiaError("schema.json: common lists \(shown); the common parameters are \(CommonParameters.names.joined(separator: ", "))")
            }
            guard seen.insert(name).inserted else { throw EunomiaError("schema.json: common lists '\(name)' twice") }
            if ownNames.contains(name) { continue } // declared by the plugin: its own wins
            var param = def.json
            if CommonParameters.pushedDown.contains(name), hasField(root, named: name) { param["pushdown"] = .string(name) }
            if name == "container", hasCgroupField(root) { param["pushdown"] = .string("container") }
            if def.first { first.append(param) } else { last.append(param) }
        }
        root["parameters"] = .array(first + own + last)
        root["common"] = nil
        return root
    }

    private static func eventRecords(_ root: JSONValue) -> [JSONValue] {
        (root["records"]?.array ?? []).filter { ($0["kind"]?.string ?? "event") == "event" }
    }

    /// Every event record has the field (a filter on the task pushes down only then).
    private static func hasField(_ root: JSONValue, named name: String) -> Bool {
        let records = eventRecords(root)
        return !records.isEmpty && records.allSatisfy { r in (r["fields"]?.array ?? []).contains { $0["name"]?.string == name } }
    }

    private static func hasCgroupField(_ root: JSONValue) -> Bool {
        eventRecords(root).contains { r in
            (r["fields"]?.array ?? []).contains { $0["role"]?.string == "cgroup_id" || $0["name"]?.string == "cgroup_id" }
        }
    }

    // MARK: Identity

    static func checkIdentity(_ root: JSONValue, _ lib: LibraryIdentity, _ libraryName: String) throws -> JSONValue {
        var root = root
        if let name = root["name"]?.string, name != lib.name {
            throw EunomiaError("\(libraryName) calls itself '\(lib.name)' but schema.json names the plugin '\(name)': build it with the schema's name (eunomia plugin build passes it as EUNOMIA_PLUGIN_NAME)")
        }
        if let version = root["version"]?.string, version != lib.version {
            throw EunomiaError("\(libraryName) reports version \(lib.version) but schema.json says \(version): build it with the schema's version (eunomia plugin build passes it as EUNOMIA_PLUGIN_VERSION)")
        }
        if let abi = root["abi"] {
            guard let major = abi["major"]?.int, let minor = abi["minor"]?.int else {
                throw EunomiaError("schema.json: abi must be an object with integer major and minor")
            }
            guard major == lib.abi.major, minor == lib.abi.minor else {
                throw EunomiaError("\(libraryName) was built for eunomia ABI \(lib.abi) but schema.json says ABI \(major).\(minor): rebuild it, or leave abi out of the schema and pack takes the library's")
            }
        } else {
            root["abi"] = .object(["major": .int(Int64(lib.abi.major)), "minor": .int(Int64(lib.abi.minor))])
        }
        return root
    }

    // MARK: Layouts from BTF

    static func completeRecord(_ record: JSONValue, bpfObject: URL) throws -> JSONValue {
        guard let structName = record["btf_struct"]?.string else { return record }
        let recordName = record["name"]?.string ?? "?"
        guard Validate.isCIdentifier(structName) else {
            throw EunomiaError("schema.json: record '\(recordName)': btf_struct \(structName.quotedForError) is not a C identifier")
        }
        var record = record
        var err = [CChar](repeating: 0, count: 256)
        if record["size"] == nil {
            let size = eh_btf_struct_size(bpfObject.path, structName, &err, err.count)
            guard size >= 0 else { throw EunomiaError("\(bpfObject.lastPathComponent): \(String(cString: err))") }
            record["size"] = .int(Int64(size))
        }
        guard let fields = record["fields"]?.array else { return record }
        var completed: [JSONValue] = try fields.map { field in
            guard field.isObject, field["type"]?.string != "template" else { return field }
            let fieldName = field["name"]?.string ?? "?"
            let member = field["member"]?.string ?? fieldName
            let what = "schema.json: record '\(recordName)' field '\(fieldName)'"
            guard Validate.isCIdentifier(member) else { throw EunomiaError("\(what): member \(member.quotedForError) is not a C identifier") }
            // Everything given: the layout check at pack compares it with BTF.
            if field["offset"] != nil, field["size"] != nil, field["type"] != nil { return field }
            var info = eh_btf_member_info()
            guard eh_btf_member_info(bpfObject.path, structName, member, &info, &err, err.count) == 0 else {
                throw EunomiaError("\(what): \(String(cString: err))")
            }
            var out = field
            if out["offset"] == nil { out["offset"] = .int(Int64(info.offset)) }
            if out["size"] == nil { out["size"] = .int(Int64(info.size)) }
            let hint = withUnsafeBytes(of: info.hint) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !hint.isEmpty {
                if DisplayHint(rawValue: hint) != nil, out["display"] == nil { out["display"] = .string(hint) }
                if FieldRole(rawValue: hint) != nil, out["role"] == nil { out["role"] = .string(hint) }
                // The event's time is a timestamp too.
                if hint == FieldRole.eventTime.rawValue, out["display"] == nil { out["display"] = .string(DisplayHint.timestamp.rawValue) }
            }
            if out["type"] == nil { out["type"] = .string(try inferType(info, member: "\(structName).\(member)", what: what)) }
            return out
        }
        // Each where the struct has it: before the first listed field the struct puts after it,
        // so columns keep the struct's order (as the schemas that listed them did).
        for field in try taskIDFields(structName: structName, bpfObject: bpfObject, present: completed) {
            let offset = field["offset"]?.int ?? 0
            let at = completed.firstIndex { $0["type"]?.string != "template" && ($0["offset"]?.int ?? 0) > offset } ?? completed.endIndex
            completed.insert(field, at: at)
        }
        record["fields"] = .array(completed)
        return record
    }

    /// The EUNOMIA_TASK_IDS members (typedefs eunomia_cgroup_id, _mount_ns, _pid_ns) the schema
    /// lists no field for: hidden fields with their roles, so every event names its container.
    static func taskIDFields(structName: String, bpfObject: URL, present: [JSONValue]) throws -> [JSONValue] {
        let columns = [FieldRole.cgroupID.rawValue: "CGROUP", FieldRole.mountNamespace.rawValue: "MNTNS", FieldRole.pidNamespace.rawValue: "PIDNS"]
        let roles = Set(present.compactMap { $0["role"]?.string })
        let mirrored = Set(present.compactMap { $0["member"]?.string ?? $0["name"]?.string })
        let names = Set(present.compactMap { $0["name"]?.string })
        var err = [CChar](repeating: 0, count: 256)
        var buffer = [CChar](repeating: 0, count: 8192)
        let count = eh_btf_member_names(bpfObject.path, structName, &buffer, buffer.count, &err, err.count)
        guard count > 0 else { return [] }
        let members = buffer.split(separator: 0, omittingEmptySubsequences: true).prefix(Int(count))
            .map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        var added: [JSONValue] = []
        for member in members where !mirrored.contains(member) && !names.contains(member) {
            var info = eh_btf_member_info()
            guard eh_btf_member_info(bpfObject.path, structName, member, &info, &err, err.count) == 0 else { continue }
            let hint = withUnsafeBytes(of: info.hint) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let column = columns[hint], !roles.contains(hint), info.kind == UInt8(EH_BTF_INT) else { continue }
            added.append(.object(["name": .string(member), "type": .string((info.is_signed != 0 ? "i" : "u") + String(info.size * 8)),
                                  "offset": .int(Int64(info.offset)), "size": .int(Int64(info.size)), "role": .string(hint),
                                  "column": .string(column), "hidden": .bool(true)]))
        }
        return added
    }

    static func inferType(_ info: eh_btf_member_info, member: String, what: String) throws -> String {
        switch Int32(info.kind) {
        case Int32(EH_BTF_INT):
            if info.is_bool != 0 { return "bool" }
            guard [1, 2, 4, 8].contains(info.size) else { throw EunomiaError("\(what): \(member) is a \(info.size)-byte integer; give the field's type") }
            return (info.is_signed != 0 ? "i" : "u") + String(info.size * 8)
        case Int32(EH_BTF_ARRAY):
            if info.elem_kind == UInt8(EH_BTF_INT), info.elem_size == 1 { return info.is_char != 0 ? "string" : "bytes" }
            throw EunomiaError("\(what): \(member) is an array of \(info.elem_size)-byte elements; give the field's type (stack for addresses, histogram for log2 slots)")
        default:
            throw EunomiaError("\(what): \(member) is not an integer or an array; give the field's type")
        }
    }
}
