import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The thin layer over libpq: the only code that touches `PGconn`/`PGresult` pointers and libpq return codes.
/// Everything here blocks, and nothing here is thread-safe.
///
/// `@unchecked Sendable`: a `LibPQConnection` is owned by one ``PostgresConnection`` and used only on that
/// connection's serial queue, so the `PGconn` is never touched by two threads at once (libpq's rule).
final class LibPQConnection: @unchecked Sendable {
    private var connection: OpaquePointer?
    /// Strings scrubbed from every message that leaves this type: the passwords the configuration carries.
    private let secrets: [String]

    private init(connection: OpaquePointer, secrets: [String]) {
        self.connection = connection
        self.secrets = secrets
    }

    deinit {
        if let connection { PQfinish(connection) }
    }

    // MARK: Connecting

    /// Connects and prepares the session; on any failure nothing is left open.
    static func connect(_ configuration: PostgresConfiguration) throws(PostgresError) -> LibPQConnection {
        let secrets = try secrets(of: configuration)
        // Order matters: later entries override earlier ones, and the `dbname` entry expands the conninfo.
        // So the timeout is a default the conninfo may override, while the password and encoding are not.
        var parameters: [(String, String)] = []
        if let timeout = configuration.connectTimeoutSeconds {
            parameters.append(("connect_timeout", String(timeout)))
        }
        parameters.append(("dbname", configuration.conninfo))
        parameters += configuration.parameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if let password = configuration.password {
            parameters.append(("password", password))
        }
        parameters.append(("fallback_application_name", configuration.applicationName))
        parameters.append(("client_encoding", "UTF8"))

        let keywords = parameters.map { strdup($0.0) }
        let values = parameters.map { strdup($0.1) }
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        let pointer: OpaquePointer? = (keywords.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { keys in
            (values.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { vals in
                PQconnectdbParams(keys.baseAddress, vals.baseAddress, 1)
            }
        }
        guard let pointer else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        // From here the handle owns the PGconn, and its deinit finishes it on every failure path.
        let handle = LibPQConnection(connection: pointer, secrets: secrets)
        _ = PQsetNoticeReceiver(pointer, quietNoticeReceiver, nil)
        guard PQstatus(pointer) == CONNECTION_OK else {
            throw handle.connectionFailure()
        }
        try handle.prepareSession()
        return handle
    }

    /// The passwords to scrub from messages.
    private static func secrets(of configuration: PostgresConfiguration) throws(PostgresError) -> [String] {
        var secrets: [String] = []
        if let password = configuration.password, !password.isEmpty { secrets.append(password) }
        if let password = getenv("PGPASSWORD").map({ String(cString: $0) }), !password.isEmpty {
            secrets.append(password)
        }
        secrets += try PostgresConfiguration.passwords(in: configuration.conninfo).filter { !$0.isEmpty }
        return secrets
    }

    /// Session settings the row decoding relies on: UTC ISO timestamps, exact floats, hex bytea.
    private func prepareSession() throws(PostgresError) {
        _ = try execute(
            "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3; SET bytea_output = 'hex'",
            [],
            simpleProtocol: true
        )
    }

    /// Reconnects with the same parameters (after the server restarted, say).
    func reset() throws(PostgresError) {
        let connection = try open()
        PQreset(connection)
        guard PQstatus(connection) == CONNECTION_OK else {
            throw connectionFailure()
        }
        try prepareSession()
    }

    func close() {
        if let connection { PQfinish(connection) }
        connection = nil
    }

    var isOpen: Bool { connection != nil }

    var isBroken: Bool { connection.map { PQstatus($0) != CONNECTION_OK } ?? true }

    /// `PQserverVersion`, e.g. 150018 for 15.18 and 90624 for 9.6.24; 0 when unknown.
    var serverVersionNumber: Int { connection.map { Int(PQserverVersion($0)) } ?? 0 }

    /// `user@host:port/database` of the live connection (whatever conninfo and environment resolved to).
    var target: String {
        guard let connection else { return "(closed)" }
        func field(_ value: UnsafeMutablePointer<CChar>?) -> String { value.map { String(cString: $0) } ?? "" }
        return "\(field(PQuser(connection)))@\(field(PQhost(connection))):\(field(PQport(connection)))/\(field(PQdb(connection)))"
    }

    // MARK: Statements

    /// Runs one statement with parameters (extended protocol; text results), or a multi-statement string
    /// without parameters when `simpleProtocol` is set.
    func execute(_ sql: String, _ parameters: [PostgresValue], simpleProtocol: Bool = false) throws(PostgresError)
        -> PostgresRows
    {
        let connection = try usableConnection()
        let result: OpaquePointer? =
            if simpleProtocol {
                PQexec(connection, sql)
            } else {
                Self.withParameters(parameters) { count, types, values, lengths, formats in
                    PQexecParams(connection, sql, count, types, values, lengths, formats, 0)
                }
            }
        return try consume(result, failureCode: .queryFailed)
    }

    /// Sends all statements in pipeline mode (one round trip, one implicit transaction unless one is open)
    /// and returns each one's affected rows.
    func executePipelined(_ statements: [PostgresStatement]) throws(PostgresError) -> [Int] {
        let connection = try usableConnection()
        guard PQenterPipelineMode(connection) == 1 else { throw connectionError(.queryFailed) }
        defer { PQexitPipelineMode(connection) }
        // Non-blocking while sending, so a large batch cannot deadlock with the server blocked on writing
        // results we are not reading: `flushPipeline` reads whenever the socket is readable.
        PQsetnonblocking(connection, 1)
        for statement in statements {
            let sent = Self.withParameters(statement.parameters) { count, types, values, lengths, formats in
                PQsendQueryParams(connection, statement.sql, count, types, values, lengths, formats, 0)
            }
            guard sent == 1 else {
                PQsetnonblocking(connection, 0)
                throw connectionError(.queryFailed)
            }
        }
        guard PQpipelineSync(connection) == 1 else {
            PQsetnonblocking(connection, 0)
            throw connectionError(.queryFailed)
        }
        let flushed = flushPipeline(connection)
        PQsetnonblocking(connection, 0)
        guard flushed else { throw connectionError(.queryFailed) }

        var affectedRows: [Int] = []
        affectedRows.reserveCapacity(statements.count)
        var firstError: PostgresError?
        var statementIndex = 0
        var statementHadResult = false
        while true {
            guard let result = PQgetResult(connection) else {
                // NULL ends one statement's results.
                if !statementHadResult { break }
                statementIndex += 1
                statementHadResult = false
                continue
            }
            defer { PQclear(result) }
            let status = PQresultStatus(result)
            if status == PGRES_PIPELINE_SYNC { break }
            statementHadResult = true
            switch status {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
                affectedRows.append(Self.affectedRows(result))
            case PGRES_PIPELINE_ABORTED:
                affectedRows.append(0)
            default:
                affectedRows.append(0)
                if firstError == nil {
                    var error = resultError(result, failureCode: .queryFailed)
                    error.statementIndex = statementIndex
                    firstError = error
                }
            }
        }
        if isBroken { throw firstError ?? connectionError(.queryFailed) }
        if let firstError { throw firstError }
        guard affectedRows.count == statements.count else {
            throw PostgresError(
                code: .unexpectedResult,
                message: "the pipeline returned \(affectedRows.count) results for \(statements.count) statements"
            )
        }
        return affectedRows
    }

    /// Flushes libpq's output buffer, consuming input meanwhile; false on a connection error.
    private func flushPipeline(_ connection: OpaquePointer) -> Bool {
        while true {
            let pending = PQflush(connection)
            if pending == 0 { return true }
            if pending < 0 { return false }
            var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN | POLLOUT), revents: 0)
            let ready = poll(&descriptor, 1, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return false
            }
            if descriptor.revents & Int16(POLLIN) != 0, PQconsumeInput(connection) == 0 {
                return false
            }
        }
    }

    // MARK: COPY FROM STDIN

    /// Starts `COPY … FROM STDIN`; the connection is then in copy state until `endCopy` or `abortCopy`.
    func beginCopy(_ sql: String) throws(PostgresError) {
        let connection = try usableConnection()
        guard let result = PQexec(connection, sql) else { throw connectionError(.copyFailed) }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COPY_IN else {
            if PQresultStatus(result) == PGRES_FATAL_ERROR {
                throw resultError(result, failureCode: .copyFailed)
            }
            throw PostgresError(code: .unexpectedResult, message: "the statement did not start COPY FROM STDIN")
        }
    }

    func putCopyData(_ bytes: [UInt8]) throws(PostgresError) {
        guard !bytes.isEmpty else { return }
        let connection = try usableConnection()
        let sent = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(connection, $0.baseAddress, Int32($0.count)) }
        }
        guard sent == 1 else { throw connectionError(.copyFailed) }
    }

    /// Ends the copy and returns the rows copied.
    func endCopy() throws(PostgresError) -> Int {
        let connection = try usableConnection()
        guard PQputCopyEnd(connection, nil) == 1 else { throw connectionError(.copyFailed) }
        let rows = try consume(PQgetResult(connection), failureCode: .copyFailed).affectedRows
        drainResults(connection)
        return rows
    }

    /// Makes the server fail the copy (nothing is written) and leaves the connection ready again.
    func abortCopy(reason: String) {
        guard let connection, PQstatus(connection) == CONNECTION_OK else { return }
        _ = PQputCopyEnd(connection, reason)
        drainResults(connection)
    }

    /// Reads what the server sent and takes every `NOTIFY` queued for this session (without waiting).
    func takeNotifications() throws(PostgresError) -> [PostgresNotification] {
        let connection = try usableConnection()
        guard PQconsumeInput(connection) == 1 else { throw connectionError(.connectionLost) }
        var notifications: [PostgresNotification] = []
        while let notify = PQnotifies(connection) {
            notifications.append(PostgresNotification(
                channel: String(cString: notify.pointee.relname), payload: String(cString: notify.pointee.extra),
                processID: notify.pointee.be_pid
            ))
            PQfreemem(notify)
        }
        return notifications
    }

    private func drainResults(_ connection: OpaquePointer) {
        while let result = PQgetResult(connection) {
            PQclear(result)
        }
    }

    // MARK: Results and errors

    private func open() throws(PostgresError) -> OpaquePointer {
        guard let connection else {
            throw PostgresError(code: .closed, message: "the connection was closed", isRetryable: false)
        }
        return connection
    }

    private func usableConnection() throws(PostgresError) -> OpaquePointer {
        let connection = try open()
        guard PQstatus(connection) == CONNECTION_OK else {
            throw PostgresError(
                code: .connectionLost,
                message: "the connection is broken; reset() reconnects",
                sqlState: .connectionDoesNotExist
            )
        }
        return connection
    }

    /// Turns a result into rows, or into an error for a failed statement; frees the result.
    private func consume(_ result: OpaquePointer?, failureCode: PostgresError.Code) throws(PostgresError)
        -> PostgresRows
    {
        guard let result else { throw connectionError(failureCode) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return Self.rows(of: result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            if let connection {
                _ = PQputCopyEnd(connection, "COPY is only supported through copyFrom")
                drainResults(connection)
            }
            throw PostgresError(
                code: .unexpectedResult,
                message: "COPY statements must go through copyFrom(table:columns:_:)"
            )
        default:
            throw resultError(result, failureCode: failureCode)
        }
    }

    private static func rows(of result: OpaquePointer) -> PostgresRows {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { column in
            PostgresRows.Column(
                name: String(cString: PQfname(result, Int32(column))),
                typeOID: UInt32(PQftype(result, Int32(column)))
            )
        }
        var totalLength = 0
        for row in 0..<rowCount {
            for column in 0..<columnCount {
                totalLength += Int(PQgetlength(result, Int32(row), Int32(column)))
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(totalLength)
        var cells: [(start: Int32, length: Int32)] = []
        cells.reserveCapacity(rowCount * columnCount)
        for row in 0..<rowCount {
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    cells.append((start: Int32(bytes.count), length: -1))
                    continue
                }
                let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                let start = bytes.count
                PQgetvalue(result, Int32(row), Int32(column)).withMemoryRebound(to: UInt8.self, capacity: length) {
                    bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
                cells.append((start: Int32(start), length: Int32(length)))
            }
        }
        return PostgresRows(
            columns: columns,
            commandTag: String(cString: PQcmdStatus(result)),
            affectedRows: affectedRows(result),
            bytes: bytes,
            cells: cells
        )
    }

    private static func affectedRows(_ result: OpaquePointer) -> Int {
        Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    /// The server's error fields of a failed result; `connectionLost` when the connection broke with it.
    private func resultError(_ result: OpaquePointer, failureCode: PostgresError.Code) -> PostgresError {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { redact(String(cString: $0)) }
        }
        let broken = isBroken
        let sqlState = field(clibpq_diag_sqlstate()).map { SQLState($0) }
        let message =
            field(clibpq_diag_message_primary())
            ?? redact(String(cString: PQresultErrorMessage(result))).trimmingTrailingNewlines()
        var error = PostgresError(
            code: broken ? .connectionLost : failureCode,
            message: message.isEmpty ? "the statement failed without a message" : message,
            sqlState: sqlState ?? (broken ? .connectionFailure : nil),
            detail: field(clibpq_diag_message_detail()),
            hint: field(clibpq_diag_message_hint()),
            severity: field(clibpq_diag_severity())
        )
        error.constraintName = field(clibpq_diag_constraint_name())
        error.tableName = field(clibpq_diag_table_name())
        return error
    }

    /// An error from the connection's own message (no result, or a failed send).
    private func connectionError(_ failureCode: PostgresError.Code) -> PostgresError {
        let message = connection.map { redact(String(cString: PQerrorMessage($0))).trimmingTrailingNewlines() } ?? ""
        let broken = isBroken
        return PostgresError(
            code: broken ? .connectionLost : failureCode,
            message: message.isEmpty ? "the connection failed without a message" : message,
            sqlState: broken ? .connectionFailure : nil
        )
    }

    /// Why connecting failed; retryable unless the server refused these credentials or this database.
    private func connectionFailure() -> PostgresError {
        let message = connection.map { redact(String(cString: PQerrorMessage($0))).trimmingTrailingNewlines() } ?? ""
        let permanent = ["authentication failed", "does not exist", "no pg_hba.conf entry", "password", "permission denied"]
            .contains { message.contains($0) }
        return PostgresError(
            code: .connectionFailed,
            message: message.isEmpty ? "connecting failed without a message" : message,
            isRetryable: !permanent
        )
    }

    private func redact(_ text: String) -> String {
        var text = text
        for secret in secrets where text.contains(secret) {
            text = text.replacing(secret, with: "<redacted>")
        }
        return text
    }

    // MARK: Parameters

    /// Lays the parameters out for `PQexecParams`/`PQsendQueryParams`: one byte buffer, explicit type OIDs,
    /// binary format for fixed-width types and bytea, NUL-terminated text otherwise.
    private static func withParameters<Result>(
        _ parameters: [PostgresValue],
        _ body: (
            Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?,
            UnsafePointer<Int32>?
        ) -> Result
    ) -> Result {
        var bytes: [UInt8] = []
        var offsets: [Int?] = []
        var lengths: [Int32] = []
        offsets.reserveCapacity(parameters.count)
        lengths.reserveCapacity(parameters.count)
        for parameter in parameters {
            let start = bytes.count
            if parameter.appendWireBytes(to: &bytes) {
                lengths.append(Int32(bytes.count - start))
                if !parameter.isBinary { bytes.append(0) }
                offsets.append(start)
            } else {
                lengths.append(0)
                offsets.append(nil)
            }
        }
        // Never empty, so the buffer has an address even when every value is an empty bytea.
        bytes.append(0)
        let types = parameters.map { Oid($0.typeOID) }
        let formats = parameters.map { Int32($0.isBinary ? 1 : 0) }
        return bytes.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress)
            let values: [UnsafePointer<CChar>?] = offsets.map { offset in
                guard let offset, let base else { return nil }
                return (base + offset).assumingMemoryBound(to: CChar.self)
            }
            return body(Int32(parameters.count), types, values, lengths, formats)
        }
    }
}

extension String {
    fileprivate func trimmingTrailingNewlines() -> String {
        var text = Substring(self)
        while text.last?.isNewline == true { text = text.dropLast() }
        return String(text)
    }
}

/// libpq prints every server notice to stderr by default, so idempotent DDL (`CREATE … IF NOT EXISTS`) would
/// litter a command's output with NOTICE lines. Notices below WARNING are dropped; warnings still go to
/// stderr as libpq would print them.
private func quietNoticeReceiver(_: UnsafeMutableRawPointer?, _ result: OpaquePointer?) {
    guard let result, let severity = PQresultErrorField(result, clibpq_diag_severity()) else { return }
    let level = String(cString: severity)
    guard level == "WARNING", let message = PQresultErrorMessage(result) else { return }
    _ = write(STDERR_FILENO, message, strlen(message))
}
