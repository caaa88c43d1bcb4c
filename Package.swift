// swift-tools-version:6.0
import PackageDescription

// libtorch (Debian libtorch-dev 1.13.1) lives in the system include/lib paths.
let torchLibs: [LinkerSetting] = [
    .linkedLibrary("torch"), .linkedLibrary("torch_cpu"), .linkedLibrary("c10"),
]

let package = Package(
    name: "TGDM",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tgdm", targets: ["tgdm"]),
        .library(name: "Torch", targets: ["Torch"]),
        .library(name: "TGDMKit", targets: ["Pipelines"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Engine: a plain-C shim over ATen + autograd, and the Swift Tensor/Module layer on top.
        .target(
            name: "CTorch",
            cxxSettings: [.unsafeFlags(["-std=c++17", "-O2", "-Wno-deprecated-declarations"])],
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
        .target(name: "SyntheticFaces", dependencies: ["Torch", "FaceModel", "Media", "TGDMModel"]),
        // Face analysis: MediaPipe detection, Face Mesh and iris networks, tracking, landmark-driven 3DMM fitting.
        .target(name: "FaceAnalysis", dependencies: ["Torch", "Media", "FaceModel"]),
        // End-to-end pipelines: image/video/audio driven reenactment and face swapping.
        .target(
            name: "Pipelines",
            dependencies: ["Torch", "FaceModel", "Media", "Diffusion", "TGDMModel", "Audio2Expression", "TextEncoder", "SyntheticFaces"]
        ),
        .executableTarget(
            name: "tgdm",
            dependencies: ["Pipelines", "FaceAnalysis", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "TorchTests", dependencies: ["Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MediaTests", dependencies: ["Media"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FaceModelTests", dependencies: ["FaceModel"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TGDMModelTests", dependencies: ["TGDMModel"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TextEncoderTests", dependencies: ["TextEncoder"], resources: [.copy("Fixtures")]),
        .testTarget(name: "Audio2ExpressionTests", dependencies: ["Audio2Expression"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SyntheticFacesTests", dependencies: ["SyntheticFaces"]),
        .testTarget(name: "PipelinesTests", dependencies: ["Pipelines"]),
        .testTarget(name: "FaceAnalysisTests", dependencies: ["FaceAnalysis"], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx17
)
