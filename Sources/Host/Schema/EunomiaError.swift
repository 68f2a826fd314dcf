/// Every user-facing failure: one line that names what is wrong. Messages quote hostile
/// input (file names, schema strings, arguments), so any control, line separator or bidi
/// character left in one is replaced with '?': an error is always one line a terminal shows as is.
public struct EunomiaError: Error, CustomStringConvertible, Equatable {
    /// What kind of failure, for front ends that map it (the HTTP API's status codes).
    public enum Kind: String, Codable, Sendable {
        /// Bad input: an argument, a parameter, a package, a config. HTTP 400.
        case invalid
        /// No such plugin, version or tracker. HTTP 404.
        case notFound
        /// Refused in the current state (remove while running, an id taken). HTTP 409.
        case conflict
        /// A plugin, the kernel or the system failed at something valid (a verifier rejection,
        /// an attach error). HTTP 422: the request was understood and could not be carried out.
        case failed
    }

    public let message: String
    public let kind: Kind

    public init(_ message: String, kind: Kind = .invalid) {
        self.kind = kind
        if message.unicodeScalars.contains(where: Validate.isUnsafeForDisplay) {
            var clean = String.UnicodeScalarView()
            for c in message.unicodeScalars { clean.append(Validate.isUnsafeForDisplay(c) ? "?" : c) }
            self.message = String(clean)
        } else {
            self.message = message
        }
    }

    public var description: String { message }
}
