/// Error text from SwiftNIO and AsyncHTTPClient ends in "(errno: N)" after the call that
/// failed; the CLI, the server and the registry clients say it as the system does.
public enum SystemErrorText {
    /// N from "(errno: N)", or nil. (No regular expression: Foundation's goes through ICU, which costs the server memory.)
    public static func errnoCode(in text: String) -> Int32? {
        guard let r = text.firstRange(of: "(errno: ") else { return nil }
        let rest = text[r.upperBound...]
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, rest.dropFirst(digits.count).first == ")" else { return nil }
        return Int32(digits)
    }
}
