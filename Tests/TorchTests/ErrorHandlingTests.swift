import Foundation
import XCTest
import Torch

/// Bad input is a thrown TorchError with a message that says what went wrong, never a crash.
final class ErrorHandlingTests: XCTestCase {
    override func setUp() { Torch.configureThreads() }

    func testShapeMismatchesThrowUsefulMessages() throws {
        let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([4, 5])
        let mm = torchErrorMessage { _ = try a.matmul(b) }
        XCTAssertTrue(mm.contains("matmul([2, 3], [4, 5])"), mm)
        XCTAssertTrue(mm.contains("cannot be multiplied"), mm)

        let cat = torchErrorMessage { _ = try Tensor.cat([Tensor.zeros([2, 3]), Tensor.zeros([2, 4])], dim: 0) }
        XCTAssertTrue(cat.contains("cat([[2, 3], [2, 4]], dim 0)"), cat)
        XCTAssertTrue(cat.contains("Sizes of tensors must match"), cat)

        let conv = torchErrorMessage { _ = try F.conv2d(Tensor.zeros([1, 4, 8, 8]), Tensor.zeros([6, 3, 3, 3])) }
        XCTAssertTrue(conv.contains("conv2d(x [1, 4, 8, 8], w [6, 3, 3, 3])"), conv)
        XCTAssertTrue(conv.contains("channels"), conv)

        let add = torchErrorMessage { _ = try Tensor.zeros([2, 3]) + Tensor.zeros([4]) }
        XCTAssertTrue(add.contains("add([2, 3], [4])"), add)

        let reshape = torchErrorMessage { _ = try Tensor.zeros([2, 3]).reshape([4, 2]) }
        XCTAssertTrue(reshape.contains("[2, 3] -> [4, 2]"), reshape)

        let layer = try Conv2d(3, 8, kernel: 3)
        let viaLayer = torchErrorMessage { _ = try layer(Tensor.zeros([1, 5, 8, 8])) }
        XCTAssertTrue(viaLayer.contains("channels"), viaLayer)
        XCTAssertFalse(torchErrorMessage { _ = try Tensor.zeros([2]).narrow(0, 1, 5) }.isEmpty)
        XCTAssertFalse(torchErrorMessage { _ = try Tensor.zeros([2]).gather(0, Tensor([Int64(7)])) }.isEmpty)
        XCTAssertTrue(torchErrorMessage { _ = try Tensor.zeros([2, 3]).split([1, 1], dim: 1) }.contains("do not add up"))
        XCTAssertTrue(torchErrorMessage { _ = try Tensor.zeros([2, 3]).chunk(2, dim: 5) }.contains("out of range"))
    }

    func testItemNeedsExactlyOneElement() throws {
        XCTAssertEqual(try Tensor([2.5] as [Float]).item(), 2.5)
        XCTAssertEqual(try Tensor(scalar: 4).item(), 4)
        let m = torchErrorMessage { _ = try Tensor([1, 2] as [Float]).item() }
        XCTAssertTrue(m.contains("exactly one element") && m.contains("[2]"), m)
        XCTAssertFalse(torchErrorMessage { _ = try Tensor.zeros([0]).item() }.isEmpty)
    }

    func testBadConstructionArgumentsThrow() throws {
        XCTAssertTrue(torchErrorMessage { _ = try Tensor([1, 2, 3] as [Float], shape: [2, 2]) }.contains("needs 4 elements"))
        XCTAssertTrue(torchErrorMessage { _ = try Tensor([Float](), shape: [-1]) }.contains("negative"))
        XCTAssertTrue(torchErrorMessage { _ = try Tensor([Float](), shape: [Int.max, 4]) }.contains("too many"))
        XCTAssertFalse(torchErrorMessage { _ = try Tensor.zeros([-3]) }.isEmpty)
        XCTAssertThrowsError(try Conv2d(3, 8, kernel: 3, groups: 2))
        XCTAssertThrowsError(try ConvTranspose2d(4, 4, kernel: 3, stride: 1, outputPadding: 2))
        XCTAssertThrowsError(try GroupNorm(groups: 3, channels: 8))
        XCTAssertThrowsError(try Device(parsing: "tpu"))
        XCTAssertEqual(try Device(parsing: "cuda:1"), .cuda(1))
    }

    func testAutogradMisuseThrows() throws {
        let x = try Tensor([1, 2] as [Float]).requiresGrad(true)
        let y = try x * 2.0
        XCTAssertTrue(torchErrorMessage { try y.backward() }.contains("scalar"))
        XCTAssertTrue(torchErrorMessage { _ = try Autograd.grad(outputs: [y.sum()], inputs: [x], gradOutputs: []) }.contains("gradOutputs"))
        XCTAssertFalse(torchErrorMessage { try y.requiresGrad(false) }.isEmpty) // not a leaf
        // Tensors without grad: backward through nothing is an error, not a crash.
        XCTAssertFalse(torchErrorMessage { try Tensor.zeros([1]).sum().backward() }.isEmpty)
    }

    /// The shim's last error is thread-local: concurrent failures each report their own message.
    func testLastErrorIsPerThread() throws {
        let n = 16
        var messages = [String](repeating: "", count: n)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: n) { i in
            var last = ""
            for _ in 0..<50 {
                do {
                    _ = try Tensor.zeros([2, 3]).reshape([7, 100 + i])
                } catch let e as TorchError {
                    last = e.message
                } catch {}
            }
            lock.lock(); messages[i] = last; lock.unlock()
        }
        for i in 0..<n {
            XCTAssertTrue(messages[i].contains("[7, \(100 + i)]"), "thread \(i): \(messages[i])")
            XCTAssertTrue(messages[i].contains("shape '[7, \(100 + i)]' is invalid"), "thread \(i) got another thread's message: \(messages[i])")
        }
    }

    func testCUDARequestsAreClearErrorsWithoutCUDA() throws {
        guard Torch.cudaDeviceCount == 0 else {
            // With CUDA, tensors and modules really move.
            let t = try Tensor.ones([2]).to(.cuda(0))
            XCTAssertEqual(t.device, .cuda(0))
            return
        }
        XCTAssertEqual(Device.best, .cpu)
        for m in [torchErrorMessage { _ = try Tensor.zeros([2], device: .cuda(0)) },
                  torchErrorMessage { _ = try Tensor.ones([2]).cuda() },
                  torchErrorMessage { _ = try Tensor.randn([2], device: .cuda(1)) },
                  torchErrorMessage { try Linear(2, 2).to(.cuda(0)) }] {
            XCTAssertTrue(m.contains("without CUDA"), m)
        }
    }
}
