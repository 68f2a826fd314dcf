import ArgumentParser
import EunomiaHost
import EunomiaRegistry
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension Plugin {
    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push packages to an OCI registry.",
            discussion: """
                One package becomes an OCI image manifest under the tag: a config blob describing it \
                (application/vnd.eunomia.plugin.config.v1+json) and one layer, the .pkg itself \
                (application/vnd.eunomia.plugin.layer.v1+zip). Several packages of the same plugin and \
                version, one per architecture, become an image index under the tag; install picks the host's.

                The registry is spoken to over https, or plain http for a loopback host or with --insecure. \
                Credentials come from --auth-file or the docker-style auth.json files (docs/registry.md).
                """)
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Use plain http:// for a registry that is not on loopback.") var insecure = false
        @Option(help: ArgumentHelp("Credentials for OCI registries, docker-style (default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json).", valueName: "file"))
        var authFile: String?
        @Argument(help: "Package files (.pkg), then the target oci://HOST[:PORT]/REPOSITORY:TAG.") var arguments: [String]

        /// org.opencontainers.image.created: $SOURCE_DATE_EPOCH when set, as reproducible builds
        /// want (the same package then gives the same manifest digest), else now.
        static func created() throws -> Date {
            guard let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty else { return Date() }
            guard text.utf8.count <= 12, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let seconds = Int64(text) else {
                throw EunomiaError("SOURCE_DATE_EPOCH \(text.quotedForError) is not a number of seconds since 1970")
            }
            return Date(timeIntervalSince1970: TimeInterval(seconds))
        }

        func run() async throws {
            _ = try global.setUp()
            try await reportingErrorsAsync {
                guard arguments.count >= 2, let target = arguments.last, target.hasPrefix(PackageSource.ociScheme) else {
                    throw EunomiaError("usage: eunomia plugin push FILE.pkg [FILE.pkg...] oci://HOST[:PORT]/REPOSITORY:TAG")
                }
                let reference = try OCIReference.parse(String(target.dropFirst(PackageSource.ociScheme.count)))
                let credentials = try OCICredentials.lookup(authority: reference.authority, authFile: authFile)
                let client = OCIClient(reference: reference, transport: HTTPTransport(insecure: insecure), credentials: credentials)
                let files = arguments.dropLast().map { URL(fileURLWithPath: $0) }
                let (digest, pushed) = try await OCIPush(client: client).push(Array(files), created: try Self.created())
                for p in pushed {
                    print("pushed \(p.summary.name) \(p.summary.version) for linux/\(p.architecture): manifest \(p.manifestDigest)")
                }
                print("pushed \(reference.with(digest: digest))")
            }
        }
    }
}
