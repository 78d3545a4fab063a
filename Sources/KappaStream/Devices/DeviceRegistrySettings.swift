/// What shapes the device registry's output.
public struct DeviceRegistrySettings: Sendable, Hashable {
    /// A device is shown offline after this long without a reading.
    public var offlineAfter: Duration

    public init(offlineAfter: Duration = .seconds(300)) {
        self.offlineAfter = offlineAfter
    }
}
