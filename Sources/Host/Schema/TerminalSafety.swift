/// Code points that are printable UTF-8 yet act on a terminal or on the reading of a line:
/// C1 controls (U+0080-U+009F; U+009B is CSI), the line and paragraph separators (U+2028,
/// U+2029) and the bidirectional controls that reorder what is shown (U+061C, U+200E,
/// U+200F, U+202A-U+202E, U+2066-U+2069). C0 controls and DEL are ASCII and handled apart.
public enum TerminalSafety {
    @inlinable public static func isNeutralised(_ scalar: UInt32) -> Bool {
        if scalar < 0xA0 { return true } // callers pass only scalars >= 0x80
        if scalar < 0x061C { return false }
        switch scalar {
        case 0x061C, 0x200E, 0x200F, 0x2028...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
