import Foundation

/// Progress and summaries go to stderr, keeping stdout for a command's actual output.
enum StandardError {
    static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
