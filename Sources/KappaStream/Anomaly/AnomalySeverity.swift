/// How bad an episode is, from its peak score's band (see `DetectorSettings.criticalFactor`).
public enum AnomalySeverity: UInt8, Hashable, Comparable, Sendable, CustomStringConvertible {
    case warning = 0
    case critical = 1

    public var description: String {
        switch self {
        case .warning: "warning"
        case .critical: "critical"
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
