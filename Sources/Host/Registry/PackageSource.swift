import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What `plugin install` was given: a package file, an OCI reference, or a plugin by name
/// from the configured registries.
public enum PackageSource: Equatable {
    /// A .pkg on this machine.
    case file(URL)
    /// `oci://HOST[:PORT]/REPO:TAG` or `...@sha256:DIGEST`; the text after `oci://`.
    case oci(String)
    /// NAME, NAME@VERSION or NAME@RANGE, resolved against the registries in order.
    case named(name: String, requirement: VersionRequirement)

    public static let ociScheme = "oci://"

    /// A path (anything with a '/' or ending in .pkg) is a file; `oci://` is OCI; anything else
    /// must be a plugin reference, or it is one line saying what the three forms are.
    public static func parse(_ argument: String) throws -> PackageSource {
        if argument.hasPrefix(ociScheme) { return .oci(String(argument.dropFirst(ociScheme.count))) }
        if argument.contains("/") || argument.hasSuffix(".pkg") { return .file(URL(fileURLWithPath: argument)) }
        do {
            let r = try PluginReference.parse(argument)
            return .named(name: r.name, requirement: r.requirement)
        } catch let e as EunomiaError {
            throw EunomiaError("\(e.message); or give a package file (PATH.pkg) or oci://HOST/REPO:TAG")
        }
    }
}
