import CNATS
import KappaLog

/// What the log needs to know of one JetStream stream.
struct JetStreamStreamInfo: Sendable {
    var name: String
    var subjects: [String]
    var description: String
    var replicas: Int
    var isFileStorage: Bool
    var denyDelete: Bool
    /// The first sequence still stored; `lastSequence + 1` when the stream is empty.
    var firstSequence: UInt64
    var lastSequence: UInt64
    var messages: UInt64 = 0
    var bytes: UInt64 = 0
    /// Sequences inside first…last that hold no message (interior deletes).
    var deletedCount: UInt64 = 0
    /// Replicas that are offline or not current, by name; and the stream's leader (nil for a single server).
    var leader: String? = nil
    var laggingReplicas: [String] = []
}

/// What the log asks JetStream to create.
struct JetStreamStreamSpecification: Sendable {
    var name: String
    var subject: String
    var description: String
    var replicas: Int
    /// 0 for no limit: per-subject retention of 1 keeps only the latest message (consumer offsets).
    var maxMessagesPerSubject: Int64 = 0
}

/// Owns one NATS connection and its JetStream context: the only code that touches libnats.
///
/// Threading contract: libnats is thread-safe, and every method here blocks the calling thread on the
/// network for up to the request timeout. Callers are dedicated threads (the MQTT network thread that
/// appends, `Blocking.run` for reads), never Swift's cooperative pool. Publish acknowledgements arrive on
/// libnats' own thread and only settle entries in ``acknowledgements``.
final class NATSConnection: @unchecked Sendable {
    // @unchecked: the three handles are created once in `make` and destroyed in deinit; libnats serialises
    // access to them internally.
    private let options: OpaquePointer
    private let connection: OpaquePointer
    private let jetStream: OpaquePointer
    let acknowledgements: PublishAcknowledgements
    /// This connection's part of its message ids (`<sequence>.<writer>`): a writer chains each record to its
    /// own previous one by id, which another gateway's record in between can never match.
    let writerID = String(UInt64.random(in: 1...UInt64.max), radix: 36)
    let requestTimeoutMilliseconds: Int64

    private init(options: OpaquePointer, connection: OpaquePointer, jetStream: OpaquePointer, acknowledgements: PublishAcknowledgements, requestTimeoutMilliseconds: Int64) {
        self.options = options
        self.connection = connection
        self.jetStream = jetStream
        self.acknowledgements = acknowledgements
        self.requestTimeoutMilliseconds = requestTimeoutMilliseconds
    }

    /// Connects, or starts connecting in the background when no server answers yet (reconnects never stop).
    static func make(configuration: JetStreamConfiguration) throws(LogError) -> NATSConnection {
        _ = natsLibraryOpened
        var optionsPointer: OpaquePointer?
        try check(natsOptions_Create(&optionsPointer), "natsOptions_Create")
        guard let options = optionsPointer else { throw LogError.nats(NATS_NO_MEMORY, call: "natsOptions_Create") }
        var connectionPointer: OpaquePointer?
        var jetStreamPointer: OpaquePointer?
        let acknowledgements = PublishAcknowledgements()
        do throws(LogError) {
            try configure(options, configuration)
            // First one plain attempt: refused credentials or TLS must be an error now (with retry-on-failed-
            // connect, libnats would keep retrying them inside natsConnection_Connect forever).
            var status = natsConnection_Connect(&connectionPointer, options)
            if status == NATS_PROTOCOL_ERROR {
                // Once more, to tell a server that was going down from one that drops this client every time.
                if let connectionPointer { natsConnection_Destroy(connectionPointer) }
                connectionPointer = nil
                status = natsConnection_Connect(&connectionPointer, options)
            }
            if let refusal = refusal(status, usingTLS: configuration.trustedCertificates != nil || configuration.certificateFile != nil) {
                var error = LogError.nats(status, call: "natsConnection_Connect")
                error.code = .invalidArgument
                error.message = "NATS refused the connection (\(text(status))): \(refusal)"
                throw error
            }
            if status != NATS_OK {
                // Not reachable yet is no failure: with retry-on-failed-connect the client keeps trying, and an
                // append meanwhile reports the log unavailable, which pauses intake until NATS is up.
                if let connectionPointer { natsConnection_Destroy(connectionPointer) }
                connectionPointer = nil
                // With a connected callback, natsConnection_Connect returns NATS_NOT_YET_CONNECTED at once;
                // without one it blocks until connected, forever with unlimited reconnects.
                try check(natsOptions_SetRetryOnFailedConnect(options, true, natsConnectedLater, nil), "natsOptions_SetRetryOnFailedConnect")
                status = natsConnection_Connect(&connectionPointer, options)
            }
            guard status == NATS_OK || status == NATS_NOT_YET_CONNECTED, let connection = connectionPointer else {
                throw LogError.nats(status, call: "natsConnection_Connect")
            }
            var jetStreamOptions = jsOptions()
            try check(jsOptions_Init(&jetStreamOptions), "jsOptions_Init")
            jetStreamOptions.Wait = configuration.requestTimeout.wholeMilliseconds
            jetStreamOptions.PublishAsync.MaxPending = Int64(max(1, configuration.publishWindow))
            jetStreamOptions.PublishAsync.AckHandler = publishAcknowledged
            jetStreamOptions.PublishAsync.AckHandlerClosure = Unmanaged.passUnretained(acknowledgements).toOpaque()
            try check(natsConnection_JetStream(&jetStreamPointer, connection, &jetStreamOptions), "natsConnection_JetStream")
            guard let jetStream = jetStreamPointer else { throw LogError.nats(NATS_NO_MEMORY, call: "natsConnection_JetStream") }
            return NATSConnection(
                options: options, connection: connection, jetStream: jetStream, acknowledgements: acknowledgements,
                requestTimeoutMilliseconds: configuration.requestTimeout.wholeMilliseconds
            )
        } catch {
            if let connectionPointer { natsConnection_Destroy(connectionPointer) }
            natsOptions_Destroy(options)
            throw error
        }
    }

    /// What an operator should check when the servers answered but would not let this client in; nil when the
    /// status is no refusal (a server that does not answer yet is waited for instead).
    private static func refusal(_ status: natsStatus, usingTLS: Bool) -> String? {
        switch status {
        case NATS_CONNECTION_AUTH_FAILED, NATS_NOT_PERMITTED:
            "check log.nats.user/password/token/creds_file"
        case NATS_SSL_ERROR:
            "the TLS handshake failed: check log.nats.tls.ca_file (the CA that signed the servers' certificates) and, for servers that verify clients, log.nats.tls.cert_file and key_file"
        case NATS_SECURE_CONNECTION_REQUIRED:
            "the servers require TLS: set log.nats.tls.ca_file to the CA that signed their certificates"
        case NATS_SECURE_CONNECTION_WANTED:
            "TLS is set (log.nats.tls.ca_file or cert_file) but the servers do not offer it"
        // A server that verifies clients completes the TLS handshake and then drops one without an acceptable
        // certificate, before answering the client's first PING.
        case NATS_PROTOCOL_ERROR where usingTLS:
            "the servers closed the connection after the TLS handshake: servers that verify clients need log.nats.tls.cert_file and key_file, signed by a CA they trust"
        case NATS_PROTOCOL_ERROR:
            "the servers closed the connection during the NATS handshake"
        default:
            nil
        }
    }

    private static func configure(_ options: OpaquePointer, _ configuration: JetStreamConfiguration) throws(LogError) {
        guard !configuration.servers.isEmpty else {
            throw LogError(code: .invalidArgument, message: "no NATS server given")
        }
        let servers = configuration.servers.map { strdup($0) }
        defer { servers.forEach { free($0) } }
        var serverPointers = servers.map { UnsafePointer<CChar>($0) }
        try check(natsOptions_SetServers(options, &serverPointers, Int32(serverPointers.count)), "natsOptions_SetServers")
        try check(natsOptions_SetName(options, configuration.connectionName), "natsOptions_SetName")
        try check(natsOptions_SetMaxReconnect(options, -1), "natsOptions_SetMaxReconnect")
        try check(natsOptions_SetReconnectWait(options, configuration.reconnectWait.wholeMilliseconds), "natsOptions_SetReconnectWait")
        try check(natsOptions_SetTimeout(options, configuration.requestTimeout.wholeMilliseconds), "natsOptions_SetTimeout")
        // A server that dies without closing its socket is noticed within seconds, not the default minutes.
        try check(natsOptions_SetPingInterval(options, 2_000), "natsOptions_SetPingInterval")
        try check(natsOptions_SetMaxPingsOut(options, 2), "natsOptions_SetMaxPingsOut")
        if let user = configuration.user {
            try check(natsOptions_SetUserInfo(options, user, configuration.password ?? ""), "natsOptions_SetUserInfo")
        }
        if let token = configuration.token {
            try check(natsOptions_SetToken(options, token), "natsOptions_SetToken")
        }
        if let credentials = configuration.credentialsFile {
            try check(natsOptions_SetUserCredentialsFromFiles(options, credentials, nil), "natsOptions_SetUserCredentialsFromFiles")
        }
        if let trusted = configuration.trustedCertificates {
            try check(natsOptions_SetSecure(options, true), "natsOptions_SetSecure")
            try check(natsOptions_LoadCATrustedCertificates(options, trusted), "natsOptions_LoadCATrustedCertificates")
        }
        if let certificate = configuration.certificateFile, let key = configuration.keyFile {
            try check(natsOptions_SetSecure(options, true), "natsOptions_SetSecure")
            try check(natsOptions_LoadCertificatesChain(options, certificate, key), "natsOptions_LoadCertificatesChain")
        }
    }

    deinit {
        jsCtx_Destroy(jetStream)
        natsConnection_Destroy(connection)
        natsOptions_Destroy(options)
    }

    var isConnected: Bool { natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED }

    func close() {
        natsConnection_Close(connection)
    }

    // MARK: Streams

    /// Nil when the stream does not exist.
    func streamInfo(named name: String) throws(LogError) -> JetStreamStreamInfo? {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var errorCode = jsErrCode(0)
        let status = js_GetStreamInfo(&info, jetStream, name, nil, &errorCode)
        if status == NATS_NOT_FOUND || errorCode == JSStreamNotFoundErr { return nil }
        guard status == NATS_OK, let info else { throw LogError.nats(status, call: "js_GetStreamInfo", errorCode: errorCode, stream: name) }
        defer { jsStreamInfo_Destroy(info) }
        return Self.swiftInfo(info)
    }

    func addStream(_ specification: JetStreamStreamSpecification) throws(LogError) -> JetStreamStreamInfo {
        var configuration = jsStreamConfig()
        try Self.check(jsStreamConfig_Init(&configuration), "jsStreamConfig_Init")
        let name = strdup(specification.name)
        let description = strdup(specification.description)
        let subject = strdup(specification.subject)
        defer { free(name); free(description); free(subject) }
        var subjects: [UnsafePointer<CChar>?] = [UnsafePointer(subject)]
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var errorCode = jsErrCode(0)
        let status = subjects.withUnsafeMutableBufferPointer { subjectList in
            configuration.Name = UnsafePointer(name)
            configuration.Description = UnsafePointer(description)
            configuration.Subjects = subjectList.baseAddress
            configuration.SubjectsLen = 1
            configuration.Storage = js_FileStorage
            configuration.Retention = js_LimitsPolicy
            configuration.Replicas = Int64(specification.replicas)
            configuration.MaxMsgsPerSubject = specification.maxMessagesPerSubject > 0 ? specification.maxMessagesPerSubject : -1
            // Offsets are sequence numbers: deleting single messages would punch holes into them.
            configuration.DenyDelete = true
            return js_AddStream(&info, jetStream, &configuration, nil, &errorCode)
        }
        guard status == NATS_OK, let info else { throw LogError.nats(status, call: "js_AddStream", errorCode: errorCode, stream: specification.name) }
        defer { jsStreamInfo_Destroy(info) }
        return Self.swiftInfo(info)
    }

    func streamNames() throws(LogError) -> [String] {
        var list: UnsafeMutablePointer<jsStreamNamesList>?
        var errorCode = jsErrCode(0)
        let status = js_StreamNames(&list, jetStream, nil, &errorCode)
        if status == NATS_NOT_FOUND { return [] }
        guard status == NATS_OK, let list else { throw LogError.nats(status, call: "js_StreamNames", errorCode: errorCode) }
        defer { jsStreamNamesList_Destroy(list) }
        return (0..<Int(list.pointee.Count)).compactMap { index in list.pointee.List[index].map { String(cString: $0) } }
    }

    private static func swiftInfo(_ info: UnsafeMutablePointer<jsStreamInfo>) -> JetStreamStreamInfo {
        let configuration = info.pointee.Config!.pointee
        let subjects = (0..<Int(configuration.SubjectsLen)).compactMap { index in
            configuration.Subjects[index].map { String(cString: $0) }
        }
        var result = JetStreamStreamInfo(
            name: String(cString: configuration.Name),
            subjects: subjects,
            description: configuration.Description.map { String(cString: $0) } ?? "",
            replicas: Int(configuration.Replicas),
            isFileStorage: configuration.Storage == js_FileStorage,
            denyDelete: configuration.DenyDelete,
            firstSequence: info.pointee.State.FirstSeq,
            lastSequence: info.pointee.State.LastSeq
        )
        result.messages = info.pointee.State.Msgs
        result.bytes = info.pointee.State.Bytes
        result.deletedCount = info.pointee.State.NumDeleted
        if let cluster = info.pointee.Cluster?.pointee {
            result.leader = cluster.Leader.map { String(cString: $0) }
            for index in 0..<Int(cluster.ReplicasLen) {
                guard let peer = cluster.Replicas[index]?.pointee, peer.Offline || !peer.Current else { continue }
                result.laggingReplicas.append(peer.Name.map { String(cString: $0) } ?? "?")
            }
        }
        return result
    }

    // MARK: Messages

    /// Sends one message without waiting; its answer settles `key` in ``acknowledgements``.
    /// `expectedLastSequence` 0 expects an empty stream (set as a header: libnats takes 0 for "none", while
    /// nats-server honours an explicit 0); `expectedLastMessageID`, when given, must be the id of the stream's
    /// last message too.
    func publishAsync(subject: String, body: [UInt8], key: PublishKey, expectedLastSequence: UInt64, expectedLastMessageID: String? = nil) throws(LogError) {
        var message: OpaquePointer?
        let created = body.withUnsafeBufferPointer { bytes in
            bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { characters in
                natsMsg_Create(&message, subject, nil, characters, Int32(bytes.count))
            }
        }
        try Self.check(created, "natsMsg_Create")
        var headerSet = String(key.attempt).withCString { natsMsgHeader_Set(message, PublishKey.attemptHeader, $0) }
        if headerSet == NATS_OK, expectedLastSequence == 0 {
            headerSet = natsMsgHeader_Set(message, "Nats-Expected-Last-Sequence", "0")
        }
        if headerSet != NATS_OK {
            natsMsg_Destroy(message)
            throw LogError.nats(headerSet, call: "natsMsgHeader_Set")
        }
        var publishOptions = jsPubOptions()
        _ = jsPubOptions_Init(&publishOptions)
        publishOptions.ExpectLastSeq = expectedLastSequence
        publishOptions.MaxWait = requestTimeoutMilliseconds
        acknowledgements.expect(key)
        let status = key.messageID.withCString { messageID in
            publishOptions.MsgId = messageID
            guard let expectedLastMessageID else { return js_PublishMsgAsync(jetStream, &message, &publishOptions) }
            return expectedLastMessageID.withCString { lastMessageID in
                publishOptions.ExpectLastMsgId = lastMessageID
                return js_PublishMsgAsync(jetStream, &message, &publishOptions)
            }
        }
        if status != NATS_OK {
            // On failure the message is still ours to destroy, and no answer will come for it.
            if let message { natsMsg_Destroy(message) }
            acknowledgements.settle(key, .failed(status: Self.text(status), errorCode: 0, text: "not sent"))
            throw LogError.nats(status, call: "js_PublishMsgAsync")
        }
    }

    /// Publishes and waits for the acknowledgement; returns the stream sequence.
    func publish(subject: String, body: [UInt8]) throws(LogError) -> UInt64 {
        var acknowledgement: UnsafeMutablePointer<jsPubAck>?
        var errorCode = jsErrCode(0)
        let status = body.withUnsafeBufferPointer { bytes in
            js_Publish(&acknowledgement, jetStream, subject, bytes.baseAddress, Int32(bytes.count), nil, &errorCode)
        }
        guard status == NATS_OK, let acknowledgement else { throw LogError.nats(status, call: "js_Publish", errorCode: errorCode) }
        defer { jsPubAck_Destroy(acknowledgement) }
        return acknowledgement.pointee.Sequence
    }

    /// Appends the body of the message at `sequence` to `buffer`; false when the stream has no such message.
    func appendMessage(stream: String, sequence: UInt64, to buffer: inout [UInt8]) throws(LogError) -> Bool {
        var message: OpaquePointer?
        var errorCode = jsErrCode(0)
        let status = js_GetMsg(&message, jetStream, stream, sequence, nil, &errorCode)
        if status == NATS_NOT_FOUND || errorCode == JSNoMessageFoundErr { return false }
        guard status == NATS_OK, let message else { throw LogError.nats(status, call: "js_GetMsg", errorCode: errorCode, stream: stream) }
        defer { natsMsg_Destroy(message) }
        Self.appendBody(of: message, to: &buffer)
        return true
    }

    /// The body of the last message on `subject`, or nil when there is none.
    func lastMessage(stream: String, subject: String) throws(LogError) -> [UInt8]? {
        var message: OpaquePointer?
        var errorCode = jsErrCode(0)
        let status = js_GetLastMsg(&message, jetStream, stream, subject, nil, &errorCode)
        if status == NATS_NOT_FOUND || errorCode == JSNoMessageFoundErr { return nil }
        guard status == NATS_OK, let message else { throw LogError.nats(status, call: "js_GetLastMsg", errorCode: errorCode, stream: stream) }
        defer { natsMsg_Destroy(message) }
        var body: [UInt8] = []
        Self.appendBody(of: message, to: &body)
        return body
    }

    private static func appendBody(of message: OpaquePointer, to buffer: inout [UInt8]) {
        let length = Int(natsMsg_GetDataLength(message))
        guard length > 0, let data = natsMsg_GetData(message) else { return }
        data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            buffer.append(contentsOf: UnsafeBufferPointer(start: bytes, count: length))
        }
    }

    // MARK: Cursors

    /// A pull subscription on an ephemeral, unacknowledged consumer of `stream` starting at `startSequence`.
    func makeCursor(stream: String, subject: String, startSequence: UInt64) throws(LogError) -> NATSPullCursor {
        var subscriptionOptions = jsSubOptions()
        _ = jsSubOptions_Init(&subscriptionOptions)
        var subscription: OpaquePointer?
        var errorCode = jsErrCode(0)
        let status = stream.withCString { streamName in
            subscriptionOptions.Stream = streamName
            subscriptionOptions.Config.DeliverPolicy = js_DeliverByStartSequence
            subscriptionOptions.Config.OptStartSeq = startSequence
            subscriptionOptions.Config.AckPolicy = js_AckNone
            return js_PullSubscribe(&subscription, jetStream, subject, nil, nil, &subscriptionOptions, &errorCode)
        }
        guard status == NATS_OK, let subscription else { throw LogError.nats(status, call: "js_PullSubscribe", errorCode: errorCode, stream: stream) }
        return NATSPullCursor(subscription: subscription)
    }

    /// Takes what the consumer has ready, up to `batch` messages and about `maxBytes`, without waiting for
    /// more: each body is appended to `buffer`, and its stream sequence and place listed in order.
    func fetch(_ cursor: NATSPullCursor, batch: Int, maxBytes: Int, into buffer: inout [UInt8], bodies: inout [(sequence: UInt64, range: Range<Int>)]) throws(LogError) {
        var request = jsFetchRequest()
        _ = jsFetchRequest_Init(&request)
        request.Batch = Int32(clamping: batch)
        request.MaxBytes = Int64(maxBytes)
        request.NoWait = true
        // The client waits this long for the server's answer; with NoWait the server answers at once with
        // what is ready (a zero expiry makes the client give up before any answer).
        request.Expires = requestTimeoutMilliseconds * 1_000_000
        var list = natsMsgList()
        let status = natsSubscription_FetchRequest(&list, cursor.subscription, &request)
        defer { natsMsgList_Destroy(&list) }
        if status == NATS_TIMEOUT || status == NATS_NOT_FOUND, list.Count == 0 { return }
        guard status == NATS_OK else { throw LogError.nats(status, call: "natsSubscription_FetchRequest") }
        for index in 0..<Int(list.Count) {
            guard let message = list.Msgs[index] else { continue }
            guard let sequence = Self.streamSequence(of: message) else { continue }
            let start = buffer.count
            Self.appendBody(of: message, to: &buffer)
            bodies.append((sequence, start..<buffer.count))
        }
    }

    /// A consumed message's stream sequence: from its JetStream metadata, or else from the message id the log
    /// published it with, which starts with the sequence JetStream was told to store it at.
    private static func streamSequence(of message: OpaquePointer) -> UInt64? {
        var metadata: UnsafeMutablePointer<jsMsgMetaData>?
        if natsMsg_GetMetaData(&metadata, message) == NATS_OK, let metadata {
            defer { jsMsgMetaData_Destroy(metadata) }
            return metadata.pointee.Sequence.Stream
        }
        var messageID: UnsafePointer<CChar>?
        guard natsMsgHeader_Get(message, "Nats-Msg-Id", &messageID) == NATS_OK, let messageID else { return nil }
        return UInt64(String(cString: messageID).prefix { $0 != "." })
    }

    static func text(_ status: natsStatus) -> String {
        natsStatus_GetText(status).map { String(cString: $0) } ?? "status \(status.rawValue)"
    }

    private static func check(_ status: natsStatus, _ call: String) throws(LogError) {
        guard status == NATS_OK else { throw LogError.nats(status, call: call) }
    }
}

/// A pull subscription the log reads a partition through, and where it will read next.
final class NATSPullCursor: @unchecked Sendable {
    // @unchecked: one reader uses a cursor at a time (the stream hands it out and takes it back under a lock).
    let subscription: OpaquePointer
    var nextSequence: UInt64 = 0

    init(subscription: OpaquePointer) {
        self.subscription = subscription
    }

    /// Deletes the server's consumer; blocks on the network, so callers on blocking threads call it.
    func close() {
        _ = natsSubscription_Unsubscribe(subscription)
    }

    deinit {
        // Without `close`, the server removes the idle ephemeral consumer by itself after a few seconds.
        natsSubscription_Destroy(subscription)
    }
}

/// libnats' acknowledgement callback, on its own thread: hands the answer to the appender and returns.
/// The library destroys the message when this returns.
private func publishAcknowledged(
    _ jetStream: OpaquePointer?, _ message: OpaquePointer?, _ acknowledgement: UnsafeMutablePointer<jsPubAck>?,
    _ failure: UnsafeMutablePointer<jsPubAckErr>?, _ closure: UnsafeMutableRawPointer?
) {
    guard let closure, let message, let subject = natsMsg_GetSubject(message) else { return }
    let acknowledgements = Unmanaged<PublishAcknowledgements>.fromOpaque(closure).takeUnretainedValue()
    var messageID: UnsafePointer<CChar>?
    _ = natsMsgHeader_Get(message, "Nats-Msg-Id", &messageID)
    var attempt: UnsafePointer<CChar>?
    _ = natsMsgHeader_Get(message, PublishKey.attemptHeader, &attempt)
    let key = PublishKey(
        subject: String(cString: subject), messageID: messageID.map { String(cString: $0) } ?? "",
        attempt: attempt.flatMap { UInt64(String(cString: $0)) } ?? 0
    )
    if let acknowledgement {
        acknowledgements.settle(key, .stored(sequence: acknowledgement.pointee.Sequence, duplicate: acknowledgement.pointee.Duplicate))
    } else if let failure {
        acknowledgements.settle(key, .failed(
            status: NATSConnection.text(failure.pointee.Err),
            errorCode: Int(failure.pointee.ErrCode.rawValue),
            text: failure.pointee.ErrText.map { String(cString: $0) } ?? ""
        ))
    }
}

/// The connected callback of a connection that started without a reachable server: nothing to do (reads and
/// appends find the connection up), but libnats only returns from connecting early when there is one.
private func natsConnectedLater(_ connection: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {}

/// `nats_Open` once per process, before the first connection; Swift runs a global's initialiser once.
private let natsLibraryOpened: Bool = {
    _ = nats_Open(-1)
    return true
}()

extension LogError {
    /// A libnats failure: unreachable servers, timeouts and leaderless streams are `unavailable` (retrying
    /// helps); a missing stream is `streamNotFound`; anything else `invalidArgument` with JetStream's code.
    static func nats(_ status: natsStatus, call: String, errorCode: jsErrCode = jsErrCode(0), stream: String? = nil) -> LogError {
        let code: LogError.Code
        if errorCode == JSStreamNotFoundErr {
            code = .streamNotFound
        } else if errorCode.rawValue == 0 || errorCode == JSClusterNotAvailErr || errorCode == JSInsufficientResourcesErr
            || errorCode == JSStreamStoreFailedErr
        {
            code = .unavailable
        } else {
            code = .invalidArgument
        }
        var message = "NATS: \(NATSConnection.text(status))"
        if errorCode.rawValue != 0 { message += " (JetStream error \(errorCode.rawValue))" }
        var error = LogError(code: code, message: message)
        error.systemCall = call
        error.stream = stream
        return error
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
