// swift-tools-version:6.0
import Foundation
import PackageDescription

// libtorch (Debian libtorch-dev 1.13.1) lives in the system include/lib paths. LIBTORCH=/path builds against
// another libtorch instead (e.g. the `torch` folder of a PyPI wheel, which has include/ and lib/); see
// docs/TRAINING.md and scripts/libtorch/check_wheel.sh. LIBTORCH_CXX11_ABI=0 for wheels built with the old ABI;
// LIBTORCH_NCCL=1 (with LIBTORCH_CUDA_INCLUDES=dir:dir naming the CUDA and NCCL headers) compiles the NCCL backend.
let environment = Context.environment
let customTorch = environment["LIBTORCH"].flatMap { $0.isEmpty ? nil : $0 }
var torchCxxFlags = ["-std=c++17", "-O2", "-Wno-deprecated-declarations"]
var torchLibs: [LinkerSetting] = [
    .linkedLibrary("torch"), .linkedLibrary("torch_cpu"), .linkedLibrary("c10"),
]
if let root = customTorch {
    torchCxxFlags += ["-I\(root)/include", "-I\(root)/include/torch/csrc/api/include"]
    torchCxxFlags.append("-D_GLIBCXX_USE_CXX11_ABI=\(environment["LIBTORCH_CXX11_ABI"] ?? "1")")
    var linkFlags = ["-L\(root)/lib", "-Xlinker", "-rpath", "-Xlinker", "\(root)/lib"]
    if FileManager.default.fileExists(atPath: "\(root)/lib/libtorch_cuda.so") {
        // Keep libtorch_cuda even though no symbol of it is referenced: loading it registers the CUDA backend.
        linkFlags += ["-Xlinker", "--no-as-needed", "-ltorch_cuda", "-Xlinker", "--as-needed"]
    }
    torchLibs.append(.unsafeFlags(linkFlags))
    if environment["LIBTORCH_NCCL"] == "1" {
        torchCxxFlags.append("-DTG_WITH_NCCL=1")
        for dir in (environment["LIBTORCH_CUDA_INCLUDES"] ?? "").split(separator: ":") { torchCxxFlags.append("-I\(dir)") }
    }
}

let package = Package(
    name: "TGDM",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tgdm", targets: ["tgdm"]),
        .executable(name: "tgdm-bench", targets: ["tgdm-bench"]),
        .library(name: "Torch", targets: ["Torch"]),
        .library(name: "TGDMKit", targets: ["Pipelines"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        // Hummingbird depends on swift-metrics, whose `Metrics` module would clash with ours: aliased below.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.9.0"),
    ],
    targets: [
        // Engine: a plain-C shim over ATen + autograd, and the Swift Tensor/Module layer on top.
        .target(
            name: "CTorch",
            cxxSettings: [.unsafeFlags(torchCxxFlags)],
            linkerSettings: torchLibs
        ),
        .target(name: "Torch", dependencies: ["CTorch"]),
        // Media: images (libpng/libjpeg), video and audio (ffmpeg), speech (espeak-ng), MFCC, face crop.
        .target(name: "CImageCodecs", linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),
        .target(
            name: "Media", dependencies: ["Torch", "CImageCodecs"],
            resources: [.copy("Resources/haarcascade_frontalface_default.xml"), .copy("Resources/HAARCASCADE_LICENSE.txt")]
        ),
        // Face model: 3DMM coefficients, morphable model, rasterizer and differentiable renderer.
        .target(name: "FaceModel", dependencies: ["Torch", "Media"]),
        // Diffusion: noise schedules and samplers, independent of any network.
        .target(name: "Diffusion", dependencies: ["Torch"]),
        // Text emotion encoders (CLIP-style text transformer, MiniLM default).
        .target(name: "TextEncoder", dependencies: ["Torch"], resources: [.copy("Resources")]),
        // EmoA2E: audio + identity + emotion prompt + intensity -> expression coefficients.
        .target(name: "Audio2Expression", dependencies: ["Torch", "FaceModel", "Media", "TextEncoder"]),
        // The TGDM generator: UNet with TexAtt and AdaIN, losses, trainer.
        .target(name: "TGDMModel", dependencies: ["Torch", "Diffusion", "FaceModel", "Media"]),
        // Synthetic benchmark data: identities with detail the 3DMM render lacks, under varied motion.
        .target(name: "SyntheticFaces", dependencies: ["Torch", "FaceModel", "Media"]),
        // Face analysis: MediaPipe detection, Face Mesh and iris networks, tracking; dlib identity embedding.
        .target(name: "FaceAnalysis", dependencies: ["Torch", "Media", "FaceModel"]),
        // Evaluation networks and metrics: LPIPS, FID/KID Inception-v3, fer's emotion classifier, lip-sync proxy.
        .target(name: "Metrics", dependencies: ["Torch", "Media"]),
        // Corpus preparation (raw talking-head videos -> sharded crops, ρ, audio, MFCC) and the training readers.
        .target(name: "Datasets", dependencies: ["Torch", "Media", "FaceModel", "FaceAnalysis", "TGDMModel", "Audio2Expression"]),
        // End-to-end pipelines: image/video/audio driven reenactment and face swapping, as a per-call API.
        .target(
            name: "Pipelines",
            dependencies: ["Torch", "FaceModel", "Media", "Diffusion", "TGDMModel", "Audio2Expression", "TextEncoder", "FaceAnalysis"]
        ),
        // Evaluation: the paper's tables (PSNR, SSIM, LPIPS, Exp/Angle/Gaze, identity, LMD, FID/KID, emotion,
        // lip-sync proxy) on the synthetic benchmark, image folders and videos.
        .target(
            name: "Evaluation",
            dependencies: ["Torch", "Media", "FaceModel", "FaceAnalysis", "Metrics", "TGDMModel", "Diffusion", "Pipelines"]
        ),
        // Benchmarks (figures and ratios), outside the domain libraries.
        .target(
            name: "Benchmarks",
            dependencies: ["Torch", "Media", "FaceModel", "Diffusion", "TGDMModel", "Audio2Expression", "Pipelines", "Metrics",
                           "FaceAnalysis", "SyntheticFaces", "Evaluation"]
        ),
        // Web studio and HTTP API (`tgdm serve`): Hummingbird app, job queue and store, multipart parsing, page assets.
        .target(
            name: "Server",
            dependencies: ["Torch", "Media", "FaceModel", "TGDMModel", "Pipelines",
                           .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics", moduleAliases: ["Metrics": "SwiftMetrics"])],
            resources: [.copy("Resources")]
        ),
        // The command-line interface as a library, so parsing and commands are testable.
        .target(
            name: "TGDMCLI",
            dependencies: ["Torch", "Media", "FaceModel", "Diffusion", "TGDMModel", "Audio2Expression", "TextEncoder",
                           "SyntheticFaces", "FaceAnalysis", "Metrics", "Pipelines", "Benchmarks", "Server", "Datasets", "Evaluation",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(name: "tgdm", dependencies: ["TGDMCLI"]),
        .executableTarget(name: "tgdm-bench", dependencies: ["Benchmarks", "Torch"]),
        .testTarget(name: "TorchTests", dependencies: ["Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FaceModelTests", dependencies: ["FaceModel", "Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TGDMModelTests", dependencies: ["TGDMModel", "Diffusion", "FaceModel", "Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TextEncoderTests", dependencies: ["TextEncoder", "Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "Audio2ExpressionTests", dependencies: ["Audio2Expression", "TextEncoder", "FaceModel", "Media", "Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SyntheticFacesTests", dependencies: ["SyntheticFaces", "FaceModel", "Torch"]),
        .testTarget(name: "PipelinesTests", dependencies: ["Pipelines", "TGDMModel", "FaceModel", "Media", "Diffusion", "Torch",
                                                      "FaceAnalysis", "Evaluation", "Audio2Expression"]),
        .testTarget(name: "TGDMCLITests", dependencies: ["TGDMCLI", "Pipelines", "Evaluation", "TGDMModel", "Torch", "Media", "FaceModel", "SyntheticFaces"], exclude: ["BadInputs"]),
        .testTarget(name: "FaceAnalysisTests", dependencies: ["FaceAnalysis", "FaceModel", "Media", "Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "Media", "Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "BenchmarksTests", dependencies: ["Benchmarks", "Torch"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Pipelines", "TGDMModel", "Diffusion", "FaceModel", "Torch"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "SyntheticFaces", "FaceModel", "Media", "TGDMModel", "Audio2Expression", "Diffusion", "Torch"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "TGDMModel", "Diffusion", "FaceModel", "Media", "Metrics", "Torch"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx17
)
