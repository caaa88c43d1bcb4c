import Foundation
import XCTest

/// `tgdm serve` as a process: refuses an exposed bind without a token; starts, answers and stops on SIGINT.
final class ServeCommandTests: XCTestCase {
    private var executable: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tgdm") }

    private func launch(_ args: [String]) throws -> (Process, Pipe, Pipe) {
        guard FileManager.default.fileExists(atPath: executable.path) else {
            throw TestHTTP.Failure("build the tgdm product first (swift build --build-tests builds it)")
        }
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        p.currentDirectoryURL = repository
        var env = ProcessInfo.processInfo.environment
        env["OMP_NUM_THREADS"] = "1"
        env["TGDM_TOKEN"] = nil
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, out, err)
    }

    func testAnExposedAddressNeedsAToken() throws {
        let (p, _, err) = try launch(["serve", "--host", "0.0.0.0", "--port", "0"])
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        XCTAssertEqual(message, "error: binding 0.0.0.0 (not a loopback address) needs a token: pass --token or set TGDM_TOKEN\n")
    }

    func testServesAndStopsOnSIGINT() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelFile(in: dir)
        let (p, out, _) = try launch(["serve", "--port", "0", "--data", dir.appendingPathComponent("data").path, "--model", model.path,
                                      "--log-format", "json"])
        defer { if p.isRunning { p.terminate() } }
        // The first stdout line names the URL with the port picked.
        var line = Data()
        while !line.contains(10) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        let port = try XCTUnwrap(text.range(of: #"127\.0\.0\.1:(\d+)/"#, options: .regularExpression).flatMap {
            Int(text[$0].dropFirst("127.0.0.1:".count).dropLast())
        }, text)
        let health = try TestHTTP.send("GET", port: port, path: "/healthz")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(try health.json()["workers"] as? Int, 1)
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 0)
    }
}
