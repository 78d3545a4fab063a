/// A processor of ``ProcessorCatalog`` by name (`kappa run --roles`, `kappa replay rollups`).
public struct ProcessorRole: RawRepresentable, Hashable, Sendable {
    public let rawValue: String

    /// Only the names of registered processors.
    public init?(rawValue: String) {
        guard ProcessorCatalog.named(rawValue) != nil else { return nil }
        self.rawValue = rawValue
    }

    private init(registered name: String) {
        rawValue = name
    }

    public static let rollups = ProcessorRole(registered: "rollups")
    public static let devices = ProcessorRole(registered: "devices")
    public static let deviceStatus = ProcessorRole(registered: "device-status")
    public static let archive = ProcessorRole(registered: "archive")
    public static let anomalies = ProcessorRole(registered: "anomalies")
    public static let deadLetters = ProcessorRole(registered: "dead-letters")

    /// Every registered processor, in registration order.
    public static var allCases: [ProcessorRole] { ProcessorCatalog.builtIn.map { ProcessorRole(registered: $0.name) } }

    public var descriptor: ProcessorDescriptor {
        // A role is only ever made from a registered name.
        ProcessorCatalog.named(rawValue)!
    }

    /// The log stream the processor consumes.
    public var streamName: String { descriptor.streamName }
}
