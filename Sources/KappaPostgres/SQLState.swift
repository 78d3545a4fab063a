/// A PostgreSQL SQLSTATE: the five-character code the server attaches to every error.
///
/// Compare against the named values (`error.sqlState == .uniqueViolation`) or the class
/// (`error.sqlState?.class == "23"` for integrity constraint violations). Unknown codes are kept as they are,
/// so newer servers never make decoding fail. The full list is in the PostgreSQL manual, appendix A.
public struct SQLState: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The five characters, for example `"23505"`.
    public let code: String

    public init(_ code: String) {
        self.code = code
    }

    public init(stringLiteral code: String) {
        self.code = code
    }

    /// The first two characters: the class of the condition (`"08"` connection exception, `"40"` transaction rollback…).
    public var `class`: Substring { code.prefix(2) }

    public var description: String { code }

    // Class 08: connection exception.
    public static let connectionException: SQLState = "08000"
    public static let connectionDoesNotExist: SQLState = "08003"
    public static let connectionFailure: SQLState = "08006"
    public static let sqlClientUnableToEstablishConnection: SQLState = "08001"
    public static let sqlServerRejectedEstablishmentOfConnection: SQLState = "08004"
    public static let protocolViolation: SQLState = "08P01"

    // Class 22: data exception.
    public static let dataException: SQLState = "22000"
    public static let numericValueOutOfRange: SQLState = "22003"
    public static let invalidDatetimeFormat: SQLState = "22007"
    public static let datetimeFieldOverflow: SQLState = "22008"
    public static let invalidTextRepresentation: SQLState = "22P02"
    public static let invalidBinaryRepresentation: SQLState = "22P03"
    public static let badCopyFileFormat: SQLState = "22P04"
    public static let characterNotInRepertoire: SQLState = "22021"
    public static let untranslatableCharacter: SQLState = "22P05"

    // Class 23: integrity constraint violation.
    public static let integrityConstraintViolation: SQLState = "23000"
    public static let notNullViolation: SQLState = "23502"
    public static let foreignKeyViolation: SQLState = "23503"
    public static let uniqueViolation: SQLState = "23505"
    public static let checkViolation: SQLState = "23514"
    public static let exclusionViolation: SQLState = "23P01"

    // Class 25: invalid transaction state.
    public static let activeSQLTransaction: SQLState = "25001"
    public static let noActiveSQLTransaction: SQLState = "25P01"
    public static let inFailedSQLTransaction: SQLState = "25P02"
    public static let readOnlySQLTransaction: SQLState = "25006"

    // Class 28: invalid authorization specification.
    public static let invalidAuthorizationSpecification: SQLState = "28000"
    public static let invalidPassword: SQLState = "28P01"

    // Class 3D / 3F: missing database or schema.
    public static let invalidCatalogName: SQLState = "3D000"
    public static let invalidSchemaName: SQLState = "3F000"

    // Class 40: transaction rollback.
    public static let transactionRollback: SQLState = "40000"
    public static let serializationFailure: SQLState = "40001"
    public static let deadlockDetected: SQLState = "40P01"

    // Class 42: syntax error or access rule violation.
    public static let syntaxError: SQLState = "42601"
    public static let insufficientPrivilege: SQLState = "42501"
    public static let undefinedColumn: SQLState = "42703"
    public static let undefinedFunction: SQLState = "42883"
    public static let undefinedTable: SQLState = "42P01"
    public static let undefinedObject: SQLState = "42704"
    public static let duplicateColumn: SQLState = "42701"
    public static let duplicateDatabase: SQLState = "42P04"
    public static let duplicateSchema: SQLState = "42P06"
    public static let duplicateTable: SQLState = "42P07"
    public static let duplicateObject: SQLState = "42710"
    public static let datatypeMismatch: SQLState = "42804"

    // Class 53: insufficient resources.
    public static let insufficientResources: SQLState = "53000"
    public static let diskFull: SQLState = "53100"
    public static let outOfMemory: SQLState = "53200"
    public static let tooManyConnections: SQLState = "53300"

    // Class 55 / 57: object state, operator intervention.
    public static let lockNotAvailable: SQLState = "55P03"
    public static let queryCanceled: SQLState = "57014"
    public static let adminShutdown: SQLState = "57P01"
    public static let crashShutdown: SQLState = "57P02"
    public static let cannotConnectNow: SQLState = "57P03"
    public static let databaseDropped: SQLState = "57P04"
    public static let idleSessionTimeout: SQLState = "57P05"

    // Class XX: internal error.
    public static let internalError: SQLState = "XX000"

    /// Whether running the same work again, on this connection after `reset()` or on a new one, may succeed:
    /// the server was shutting down or restarting, the connection broke, or the transaction lost a race.
    public var isRetryable: Bool {
        switch self {
        case .serializationFailure, .deadlockDetected, .adminShutdown, .crashShutdown, .cannotConnectNow,
            .tooManyConnections, .lockNotAvailable, .idleSessionTimeout:
            return true
        case .protocolViolation:
            return false  // also what malformed COPY data gets: sending it again fails again
        default:
            return self.class == "08"
        }
    }
}
