/// Every user-facing failure: one line that names what is wrong.
public struct EunomiaError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
