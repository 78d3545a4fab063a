/// The processors the gateway knows, registered here and nowhere else: a new processor is its folder in
/// `KappaStream`, its writer and descriptor in the same-named folder here, and one line below.
public enum ProcessorCatalog {
    public static let builtIn: [ProcessorDescriptor] = [
        .rollups,
        .anomalies,
        .devices,
        .deviceStatus,
        .archive,
        .deadLetters,
    ]

    public static func named(_ name: String) -> ProcessorDescriptor? {
        builtIn.first { $0.name == name }
    }
}
