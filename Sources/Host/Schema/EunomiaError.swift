/// Every user-facing failure: one line that names what is wrong. Messages quote hostile
/// input (file names, schema strings, arguments), so any control, line separator or bidi
/// character left in one is replaced with '?': an error is always one line a terminal shows as is.
public struct EunomiaError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) {
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
