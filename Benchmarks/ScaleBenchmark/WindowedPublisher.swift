import KappaMQTT

/// Publishes at QoS 1 over one connection with a bounded number of messages unacknowledged, so neither
/// libmosquitto's queue nor this process grows with the load.
///
/// Messages go out in slices; each slice's last message is sent with `publishAndWait` from a task, and at
/// most `slicesInFlight` such tasks are outstanding. A broker acknowledges a connection's messages in the order
/// it received them (MQTT 3.1.1 §4.6), so the acknowledgement of a slice's last message confirms the slice.
final class WindowedPublisher {
    private let client: MQTTClient
    private let sliceSize: Int
    private let slicesInFlight: Int
    private var sentInSlice = 0
    private var confirmations: [Task<Void, any Error>] = []

    init(client: MQTTClient, sliceSize: Int = 500, slicesInFlight: Int = 4) {
        self.client = client
        self.sliceSize = sliceSize
        self.slicesInFlight = slicesInFlight
    }

    func send(topic: String, payload: [UInt8]) async throws {
        sentInSlice += 1
        guard sentInSlice == sliceSize else {
            try client.publish(topic: topic, payload: payload, qos: .atLeastOnce)
            return
        }
        sentInSlice = 0
        let client = self.client
        confirmations.append(Task { try await client.publishAndWait(topic: topic, payload: payload, qos: .atLeastOnce) })
        if confirmations.count > slicesInFlight {
            try await confirmations.removeFirst().value
        }
    }

    /// Sends the last message and waits until the broker has acknowledged everything.
    func finish(topic: String, payload: [UInt8]) async throws {
        for confirmation in confirmations { try await confirmation.value }
        confirmations.removeAll()
        try await client.publishAndWait(topic: topic, payload: payload, qos: .atLeastOnce)
    }
}
