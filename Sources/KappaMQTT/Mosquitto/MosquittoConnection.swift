import CMosquitto
import Foundation
import KappaCore
import Logging
import Synchronization

/// What a ``MosquittoConnection`` reports from its network thread, and asks about: what to do next.
/// ``MQTTClient`` is the one implementation; its state machine answers.
protocol MosquittoConnectionDelegate: AnyObject, Sendable {
    /// The network thread started; the first action.
    func networkThreadStarted() -> ConnectionStateMachine.Action
    /// A TCP connect or CONNECT failed, with a sentence saying why.
    func connectAttemptFailed(problem: String) -> ConnectionStateMachine.Action
    /// The connection ended (not by a stop), with a sentence saying why.
    func connectionLost(problem: String) -> ConnectionStateMachine.Action
    /// The reconnect delay passed.
    func backoffElapsed() -> ConnectionStateMachine.Action
    /// Nothing left to drive (only a stop gets here): the action the state machine gives then.
    func idle() -> ConnectionStateMachine.Action
    /// CONNACK: `refusal` says why the broker refused, nil when it accepted.
    func connackReceived(sessionPresent: Bool, refusal: String?)
    func messageReceived(_ message: MQTTMessage)
    /// PUBACK/PUBCOMP (or, for QoS 0, the write) of message `id`.
    func acknowledged(id: Int32, result: AcknowledgementResult)
    /// SUBACK of subscription `id`: the first refusing reason code, if any.
    func subscriptionAcknowledged(id: Int32, refusedWith reasonCode: Int32?)
}

/// The libmosquitto layer: the only code (with ``MosquittoHandle``) that calls libmosquitto, handles its
/// return codes and callbacks, and runs the network thread with its read/acknowledge pump.
///
/// ## Threading contract
/// `start` runs one dedicated pthread (not a Swift concurrency thread) that connects, pumps the socket and
/// reconnects, asking its delegate what to do after each event. Every delegate call comes from that thread,
/// in the order the broker sent things. `publish`, `subscribe`, `disconnect` and `abortWithoutAcknowledging`
/// may be called from any thread: libmosquitto in threaded mode guards the handle with its own mutexes.
/// The connection holds its delegate strongly while the thread runs, so the delegate lives until `stop` has
/// joined it.
final class MosquittoConnection: Sendable {
    private let handle: MosquittoHandle
    private let configuration: MQTTConfiguration
    private let logger: Logger
    /// With it, the pump reads every packet already waiting before it writes acknowledgements (see `pumpInBursts`).
    private let onBatchEnd: MQTTClient.BatchEndHandler?
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)
    /// Wakes the network thread from a reconnect backoff.
    private let wakeup = NSCondition()
    /// nonisolated(unsafe): set by `start` before the network thread exists (pthread_create orders it before
    /// everything the thread does), read only by callbacks on that thread (libmosquitto in threaded mode runs
    /// every callback but the log's in its loop), and cleared by that thread as its last act.
    nonisolated(unsafe) private var delegate: (any MosquittoConnectionDelegate)?
    /// Messages delivered so far; nonisolated(unsafe): counted by the message callback and read by the burst
    /// pump, both on the network thread only.
    nonisolated(unsafe) private var messagesDelivered = 0

    private init(handle: MosquittoHandle, configuration: MQTTConfiguration, logger: Logger, onBatchEnd: MQTTClient.BatchEndHandler?) {
        self.handle = handle
        self.configuration = configuration
        self.logger = logger
        self.onBatchEnd = onBatchEnd
    }

    /// Creates the handle and sets the connection options; nothing is sent until `start`.
    static func make(configuration: MQTTConfiguration, logger: Logger, onBatchEnd: MQTTClient.BatchEndHandler?) throws -> MosquittoConnection {
        let handle = try MosquittoHandle.make(clientID: configuration.clientID, cleanSession: configuration.cleanSession)
        let pointer = handle.pointer
        // From here on a throw releases `handle`, whose deinit destroys the mosquitto struct.
        if configuration.protocolVersion == .v5 {
            try check(mosquitto_int_option(pointer, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5), "mosquitto_int_option(PROTOCOL_VERSION)")
        }
        try check(mosquitto_int_option(pointer, MOSQ_OPT_TCP_NODELAY, 1), "mosquitto_int_option(TCP_NODELAY)")
        try check(
            mosquitto_int_option(pointer, MOSQ_OPT_SEND_MAXIMUM, Int32(clamping: max(1, configuration.maxInflightMessages))),
            "mosquitto_int_option(SEND_MAXIMUM)"
        )
        if let username = configuration.username {
            try check(mosquitto_username_pw_set(pointer, username, configuration.password), "mosquitto_username_pw_set")
        }
        if let tls = configuration.tls {
            var caFile = tls.caFile
            if caFile == nil && tls.caDirectory == nil {
                caFile = "/etc/ssl/certs/ca-certificates.crt"
            }
            try check(
                mosquitto_tls_set(pointer, caFile, tls.caDirectory, tls.certificateFile, tls.keyFile, nil),
                "mosquitto_tls_set"
            )
            if tls.allowHostnameMismatch {
                try check(mosquitto_tls_insecure_set(pointer, true), "mosquitto_tls_insecure_set")
            }
        }
        if let will = configuration.will {
            try will.payload.withUnsafeBytes { buffer in
                try check(
                    mosquitto_will_set(pointer, will.topic, Int32(buffer.count), buffer.baseAddress, will.qos.rawValue, will.retain),
                    "mosquitto_will_set"
                )
            }
        }
        mosquitto_connect_v5_callback_set(pointer, mosquittoOnConnect)
        mosquitto_disconnect_v5_callback_set(pointer, mosquittoOnDisconnect)
        mosquitto_message_v5_callback_set(pointer, mosquittoOnMessage)
        mosquitto_publish_v5_callback_set(pointer, mosquittoOnPublish)
        mosquitto_subscribe_v5_callback_set(pointer, mosquittoOnSubscribe)
        if logger.logLevel <= .debug {
            // Only when someone reads it: with a log callback set, libmosquitto formats a line per packet.
            mosquitto_log_callback_set(pointer, mosquittoOnLog)
        }
        return MosquittoConnection(handle: handle, configuration: configuration, logger: logger, onBatchEnd: onBatchEnd)
    }

    private var broker: String { "\(configuration.host):\(configuration.port)" }

    // MARK: - Thread

    /// Starts the network thread, which calls `delegate` until `stop`.
    /// Called once.
    func start(delegate: some MosquittoConnectionDelegate) throws {
        self.delegate = delegate
        // Unretained: callbacks come only through calls on the handle, which this connection owns.
        mosquitto_user_data_set(handle.pointer, Unmanaged.passUnretained(self).toOpaque())
        let box = Unmanaged.passRetained(self)  // released by the thread when its loop ends
        var created = pthread_t()
        let rc = pthread_create(&created, nil, { argument in
            let connection = Unmanaged<MosquittoConnection>.fromOpaque(argument!).takeRetainedValue()
            connection.runNetworkThread()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            self.delegate = nil
            throw MQTTError(code: .library, message: "pthread_create: \(String(cString: strerror(rc)))")
        }
        thread.withLock { $0 = created }
    }

    /// Sends DISCONNECT (when `sendDisconnect`), stops the network thread and waits for it to end; from the
    /// network thread itself it cannot wait, and says so.
    func stop(sendDisconnect: Bool) {
        stopping.store(true, ordering: .releasing)
        if sendDisconnect {
            _ = mosquitto_disconnect(handle.pointer)
        }
        wakeup.lock()
        wakeup.broadcast()
        wakeup.unlock()
        guard let running = thread.withLock({ $0 }) else { return }
        if pthread_equal(running, pthread_self()) != 0 {
            logger.error("MQTTClient.disconnect() called from the network thread; not waiting for it")
        } else {
            pthread_join(running, nil)
            thread.withLock { $0 = nil }
        }
    }

    private var stopRequested: Bool { stopping.load(ordering: .acquiring) }

    private func runNetworkThread() {
        guard let delegate else { return }
        // Named for `top -H` and /proc: operators (and a test) can tell intake from the rest.
        nameCurrentThread("mqtt-network")
        var action = delegate.networkThreadStarted()
        while !stopRequested {
            switch action {
            case .connect:
                let rc = connectOnce()
                if rc != Int32(MOSQ_ERR_SUCCESS.rawValue) {
                    let problem = Self.error(rc, "connect to \(broker)").message
                    logger.warning("MQTT connect failed", metadata: ["mqtt.problem": "\(problem)"])
                    action = delegate.connectAttemptFailed(problem: problem)
                    continue
                }
                let loopRC = pumpUntilDisconnected()
                if stopRequested { break }
                let problem = Self.error(loopRC, "connection to \(broker)").message
                logger.warning("MQTT connection lost; reconnecting", metadata: ["mqtt.problem": "\(problem)"])
                action = delegate.connectionLost(problem: problem)
            case .reconnectAfterBackoff(let attempt):
                let delay = configuration.reconnectBackoff.delay(attempt: attempt, jitter: Double.random(in: 0...1))
                sleepUnlessStopped(delay)
                action = delegate.backoffElapsed()
            case .none, .subscribeAll, .disconnect:
                action = delegate.idle()
                if action == .none { sleepUnlessStopped(.milliseconds(100)) }
            }
        }
        // A DISCONNECT may have raced with a connect in progress; closing again is harmless.
        _ = mosquitto_disconnect(handle.pointer)
        _ = mosquitto_loop(handle.pointer, 10, 1)
        // Breaks the cycle client → connection → delegate (the client) once nothing calls it any more.
        self.delegate = nil
    }

    private func connectOnce() -> Int32 {
        var properties: OpaquePointer? = nil
        defer { mosquitto_property_free_all(&properties) }
        if configuration.protocolVersion == .v5 && !configuration.cleanSession {
            // MQTT 5 ends a session at disconnect unless the client asks for an expiry.
            let seconds = UInt32(clamping: configuration.sessionExpiry.components.seconds)
            _ = mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), seconds)
        }
        let keepAlive = Int32(clamping: max(5, configuration.keepAlive.components.seconds))
        return mosquitto_connect_bind_v5(handle.pointer, configuration.host, Int32(configuration.port), keepAlive, nil, properties)
    }

    /// Runs libmosquitto's loop until the connection ends; returns the code that ended it.
    private func pumpUntilDisconnected() -> Int32 {
        if let onBatchEnd {
            return pumpInBursts(onBatchEnd)
        }
        while true {
            let rc = mosquitto_loop(handle.pointer, 1000, 1)
            if rc != Int32(MOSQ_ERR_SUCCESS.rawValue) { return rc }
            if stopRequested { return rc }
        }
    }

    /// The loop for a client with a batch-end handler, built from libmosquitto's parts for external event
    /// loops. `mosquitto_loop` reads one packet per wake-up and writes the queued acknowledgements right
    /// after; here every packet already on the socket is read first (up to `maxBurst`), the handler stores
    /// them, and then the acknowledgements go out together. In threaded mode libmosquitto only queues the
    /// PUBACKs it makes while reading, so nothing is written before `mosquitto_loop_write`.
    private func pumpInBursts(_ onBatchEnd: MQTTClient.BatchEndHandler) -> Int32 {
        let success = Int32(MOSQ_ERR_SUCCESS.rawValue)
        let maxBurst = 1_024
        var deliveredAtLastWrite = messagesDelivered
        while true {
            if stopRequested { return success }
            let socket = mosquitto_socket(handle.pointer)
            guard socket >= 0 else { return Int32(MOSQ_ERR_NO_CONN.rawValue) }
            var events = Int16(POLLIN)
            if mosquitto_want_write(handle.pointer) { events |= Int16(POLLOUT) }
            var descriptor = pollfd(fd: socket, events: events, revents: 0)
            // A short timeout: SUBSCRIBEs and pings queued by other threads go out within it.
            let ready = poll(&descriptor, 1, 100)
            if ready < 0 && errno != EINTR {
                return Int32(MOSQ_ERR_ERRNO.rawValue)
            }
            if ready > 0 && descriptor.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                var rc = success
                var burst = 0
                var delivered = false
                // Read until a read delivers no message: the socket is drained (libmosquitto's read met EAGAIN,
                // which it reports as success) or only part of a packet is there (libmosquitto keeps it, and
                // poll wakes when the rest comes). Asking the socket how much was waiting after each packet
                // (FIONREAD) was one more system call per message, and this thread's time is mostly system calls.
                repeat {
                    let before = messagesDelivered
                    rc = mosquitto_loop_read(handle.pointer, 1)
                    burst += 1
                    delivered = messagesDelivered != before
                } while rc == success && burst < maxBurst && delivered
                // Store what was read even if the connection broke meanwhile: those messages come again, and
                // the processors count a redelivered reading once.
                guard onBatchEnd() else {
                    abortWithoutAcknowledging()
                    return Int32(MOSQ_ERR_CONN_LOST.rawValue)
                }
                if rc != success { return rc }
            }
            if mosquitto_want_write(handle.pointer) {
                // libmosquitto writes each acknowledgement with its own write(); with TCP_NODELAY each would
                // leave as its own segment, and on loopback this thread would also run the broker's side of
                // the receive for each one. Corked, a burst's acknowledgements leave together when uncorked.
                let corked = messagesDelivered &- deliveredAtLastWrite > 1 && Self.setCork(true, socket: socket)
                let rc = mosquitto_loop_write(handle.pointer, 1)
                if corked { _ = Self.setCork(false, socket: socket) }
                deliveredAtLastWrite = messagesDelivered
                if rc != success { return rc }
            }
            let rc = mosquitto_loop_misc(handle.pointer)
            if rc != success { return rc }
        }
    }

    /// Holds (or, uncorking, sends at once) what is written to `socket`; false if the option could not be set.
    static func setCork(_ corked: Bool, socket: Int32) -> Bool {
        var value: Int32 = corked ? 1 : 0
        return setsockopt(socket, Int32(IPPROTO_TCP), TCP_CORK, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    /// Whether the socket holds back partial segments (TCP_CORK); false when it is not connected.
    var acknowledgementsHeldBack: Bool {
        let socket = mosquitto_socket(handle.pointer)
        guard socket >= 0 else { return false }
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(socket, Int32(IPPROTO_TCP), TCP_CORK, &value, &length) == 0 && value != 0
    }

    /// pthread_setname_np is not visible from Swift's Glibc module; /proc/thread-self/comm is the same name.
    private func nameCurrentThread(_ name: String) {
        #if os(Linux)
        let descriptor = open("/proc/thread-self/comm", O_WRONLY)
        guard descriptor >= 0 else { return }
        _ = Array(name.utf8.prefix(15)).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        #endif
    }

    private func sleepUnlessStopped(_ delay: Duration) {
        let deadline = Date().addingTimeInterval(delay.seconds)
        wakeup.lock()
        defer { wakeup.unlock() }
        while !stopRequested && Date() < deadline {
            _ = wakeup.wait(until: deadline)
        }
    }

    // MARK: - Sending (any thread)

    /// Queues a PUBLISH; returns libmosquitto's message id.
    func publish(topic: String, payload: some Collection<UInt8>, qos: MQTTQoS, retain: Bool) throws -> Int32 {
        var id: Int32 = 0
        let rc: Int32
        if let rcFast = payload.withContiguousStorageIfAvailable({ buffer in
            mosquitto_publish(handle.pointer, &id, topic, Int32(buffer.count), buffer.baseAddress, qos.rawValue, retain)
        }) {
            rc = rcFast
        } else {
            let bytes = Array(payload)
            rc = bytes.withUnsafeBufferPointer { buffer in
                mosquitto_publish(handle.pointer, &id, topic, Int32(buffer.count), buffer.baseAddress, qos.rawValue, retain)
            }
        }
        try Self.check(rc, "mosquitto_publish to '\(topic)'")
        return id
    }

    /// Queues a SUBSCRIBE; returns libmosquitto's message id.
    func subscribe(_ subscription: MQTTSubscription) throws -> Int32 {
        var id: Int32 = 0
        try Self.check(
            mosquitto_subscribe_v5(handle.pointer, &id, subscription.filter, subscription.qos.rawValue, 0, nil),
            "mosquitto_subscribe to '\(subscription.filter)'"
        )
        return id
    }

    /// Shuts the socket down so that the acknowledgement of the message being handled never leaves.
    /// libmosquitto has queued the PUBACK/PUBREC before calling the handler and writes it only after the
    /// handler returns (threaded mode), so shutting the socket down now makes that write fail.
    func abortWithoutAcknowledging() {
        let socket = mosquitto_socket(handle.pointer)
        if socket >= 0 {
            _ = shutdown(socket, Int32(SHUT_RDWR))
        }
        logger.warning("MQTT connection cut without acknowledging the current message; the broker will deliver it again")
    }

    // MARK: - Callbacks (on the network thread)

    fileprivate func connackReceived(reasonCode: Int32, flags: Int32) {
        let refusal = reasonCode == 0 ? nil : refusalText(reasonCode)
        delegate?.connackReceived(sessionPresent: flags & 1 == 1, refusal: refusal)
    }

    /// CONNACK codes differ by protocol: MQTT 3.1.1 has its own small table, MQTT 5 uses reason codes.
    private func refusalText(_ code: Int32) -> String {
        let text = configuration.protocolVersion == .v5 ? mosquitto_reason_string(code) : mosquitto_connack_string(code)
        return text.map { String(cString: $0) } ?? "code \(code)"
    }

    fileprivate func disconnected(reasonCode: Int32) {
        logger.debug("MQTT disconnected", metadata: ["mqtt.rc": "\(reasonCode)"])
    }

    /// libmosquitto frees the message when the callback returns: topic and payload are copied here.
    fileprivate func messageReceived(_ message: UnsafePointer<mosquitto_message>) {
        let raw = message.pointee
        let topic = String(cString: raw.topic)
        let payload: [UInt8]
        if raw.payloadlen > 0, let bytes = raw.payload {
            payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(raw.payloadlen)))
        } else {
            payload = []
        }
        let qos = MQTTQoS(rawValue: raw.qos) ?? .atMostOnce
        let packetID = qos == .atMostOnce ? 0 : UInt16(truncatingIfNeeded: raw.mid)
        messagesDelivered &+= 1
        delegate?.messageReceived(MQTTMessage(topic: topic, payload: payload, qos: qos, retain: raw.retain, packetID: packetID))
    }

    fileprivate func acknowledged(id: Int32, reasonCode: Int32) {
        delegate?.acknowledged(id: id, result: reasonCode >= 0x80 ? .refused(reasonCode: reasonCode) : .accepted)
    }

    fileprivate func subscriptionAcknowledged(id: Int32, granted: UnsafeBufferPointer<Int32>) {
        let refused = granted.first { $0 >= 0x80 }
        if let refused {
            logger.error("MQTT broker refused a subscription", metadata: ["mqtt.reason_code": "\(refused)"])
        }
        delegate?.subscriptionAcknowledged(id: id, refusedWith: refused)
    }

    fileprivate func libraryLogged(level: Int32, text: String) {
        let swiftLevel: Logger.Level
        switch level {
        case MOSQ_LOG_ERR: swiftLevel = .error
        case MOSQ_LOG_WARNING: swiftLevel = .warning
        case MOSQ_LOG_NOTICE, MOSQ_LOG_INFO: swiftLevel = .debug
        default: swiftLevel = .trace
        }
        logger.log(level: swiftLevel, "libmosquitto: \(text)")
    }

    // MARK: - Return codes

    /// Wraps a libmosquitto return code, naming the call.
    static func error(_ rc: Int32, _ call: String) -> MQTTError {
        let text: String
        if rc == Int32(MOSQ_ERR_ERRNO.rawValue) {
            text = String(cString: strerror(errno))
        } else {
            text = String(cString: mosquitto_strerror(rc))
        }
        return MQTTError(code: .library, libraryCode: rc, message: "\(call): \(text)")
    }

    /// Throws unless `rc` is MOSQ_ERR_SUCCESS.
    static func check(_ rc: Int32, _ call: String) throws {
        if rc != Int32(MOSQ_ERR_SUCCESS.rawValue) {
            throw error(rc, call)
        }
    }
}

// C callbacks: free functions with libmosquitto's exact signatures, reaching the connection through userdata.

private func connection(_ userdata: UnsafeMutableRawPointer?) -> MosquittoConnection {
    Unmanaged<MosquittoConnection>.fromOpaque(userdata!).takeUnretainedValue()
}

private func mosquittoOnConnect(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ rc: Int32, _ flags: Int32, _: OpaquePointer?) {
    connection(userdata).connackReceived(reasonCode: rc, flags: flags)
}

private func mosquittoOnDisconnect(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ rc: Int32, _: OpaquePointer?) {
    connection(userdata).disconnected(reasonCode: rc)
}

private func mosquittoOnMessage(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ message: UnsafePointer<mosquitto_message>?, _: OpaquePointer?) {
    guard let message else { return }
    connection(userdata).messageReceived(message)
}

private func mosquittoOnPublish(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ id: Int32, _ reasonCode: Int32, _: OpaquePointer?) {
    connection(userdata).acknowledged(id: id, reasonCode: reasonCode)
}

private func mosquittoOnSubscribe(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ id: Int32, _ count: Int32, _ granted: UnsafePointer<Int32>?, _: OpaquePointer?) {
    connection(userdata).subscriptionAcknowledged(id: id, granted: UnsafeBufferPointer(start: granted, count: Int(count)))
}

private func mosquittoOnLog(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ level: Int32, _ text: UnsafePointer<CChar>?) {
    guard let text, let userdata else { return }
    connection(userdata).libraryLogged(level: level, text: String(cString: text))
}
