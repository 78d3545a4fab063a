import KappaCore
import KappaStream

extension ProcessorDescriptor {
    /// The devices' announced status (Sparkplug births and deaths), which the `devices` view prefers over the
    /// time since the last reading.
    public static let deviceStatus = ProcessorDescriptor(
        name: "device-status",
        streamName: KappaStreams.sparkplugLifecycle,
        defaultPartitions: KappaStreams.defaultSparkplugLifecyclePartitions,
        tables: ["device_status"],
        views: ["devices"],
        makeWriter: { schema, version, _ in DeviceStatusWriter(schema: schema, version: version) },
        makeProcessor: { _, _ in DeviceStatusProcessor() }
    )
}
