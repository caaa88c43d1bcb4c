import XCTest
@testable import Torch

final class SmokeTests: XCTestCase {
    func testAddAndShapeError() throws {
        let a = try Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])
        let b = try a + a
        XCTAssertEqual(try b.floats(), [2, 4, 6, 8])
        let c = try Tensor([1, 2, 3] as [Float])
        XCTAssertThrowsError(try a.matmul(c.reshape([3, 1]))) { e in
            XCTAssertTrue("\(e)".contains("shape") || "\(e)".contains("size"), "\(e)")
        }
    }
}
