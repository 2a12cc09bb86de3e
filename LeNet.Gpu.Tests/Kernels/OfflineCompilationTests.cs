using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using Xunit;

namespace LeNet.Gpu.Tests.Kernels;

/// <summary>
/// ILGPU's PTX and OpenCL backends, used without any device, in a context set up like the library's
/// (XMath algorithms enabled, default math mode). One backend per target, reused by every case.
/// </summary>
public sealed class OfflineBackends : IDisposable
{
    public Context Context { get; } = Context.Create(builder => builder.EnableAlgorithms().Math(MathMode.Default));

    // ISA: the oldest ILGPU lists for each architecture (CudaVersions.xml: sm_61 from PTX 5.0, sm_90 from 7.8),
    // bumped to 6.0 for sm_61 so the PTX has the .sync warp instructions every current driver expects.
    public static readonly (string Name, CudaArchitecture Architecture, CudaInstructionSet Isa)[] Cuda =
    [
        ("ptx-sm_61", CudaArchitecture.SM_61, CudaInstructionSet.ISA_60),
        ("ptx-sm_90", CudaArchitecture.SM_90, CudaInstructionSet.ISA_78),
        // For NVIDIA's assembler (PtxAssemblerTests): an A100's architecture, and sm_90 at the ISA a CUDA 12.9+
        // driver makes ILGPU emit at run time.
        ("ptx-sm_80", CudaArchitecture.SM_80, CudaInstructionSet.ISA_78),
        ("ptx-sm_90-isa88", CudaArchitecture.SM_90, CudaInstructionSet.ISA_88),
    ];

    private readonly Dictionary<string, Backend> backends = new();

    public Backend Get(string target)
    {
        lock (backends)
        {
            if (backends.TryGetValue(target, out var backend)) return backend;
            backend = target switch
            {
                "opencl-c2.0" => new CLBackend(Context,
                    // An OpenCL 2.0 device: generic address space; no fp16, fp64, 64-bit atomics or sub-groups needed.
                    new CLCapabilityContext(float16: false, float64: false, genericAddressSpace: true, int64_Atomics: false, subGroups: false),
                    CLDeviceVendor.Nvidia, CLCVersion.CL20),
                _ => Cuda.Where(c => c.Name == target).Select(c => (Backend)new PTXBackend(Context, new CudaCapabilityContext(c.Architecture), c.Architecture, c.Isa, nvvmAPI: null)).Single(),
            };
            backends[target] = backend;
            return backend;
        }
    }

    /// <summary>Explicitly grouped kernels (shared memory, barriers) enter as such; the others with their index.</summary>
    public CompiledKernel Compile(MethodInfo kernel, string target) =>
        Get(target).Compile(LeNetKernels.IsExplicitlyGrouped(kernel)
            ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel)
            : EntryPointDescription.FromImplicitlyGroupedKernel(kernel), default);

    public void Dispose()
    {
        foreach (var backend in backends.Values) backend.Dispose();
        Context.Dispose();
    }
}

/// <summary>
/// Every kernel of <see cref="LeNetKernels.All"/> compiles offline (no GPU needed) to PTX for a Pascal (sm_61) and a
/// Hopper (sm_90) GPU and to OpenCL C 2.0, so a kernel that only the CPU accelerator accepts fails here.
/// </summary>
public sealed class OfflineCompilationTests(OfflineBackends backends) : IClassFixture<OfflineBackends>
{
    public static readonly string[] Targets = ["ptx-sm_61", "ptx-sm_90", "opencl-c2.0"];

    private static string NameOf(MethodInfo m) => $"{m.DeclaringType!.Name}.{m.Name}";

    private static MethodInfo Kernel(string name) => Assert.Single(LeNetKernels.All, m => NameOf(m) == name);

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var kernel in LeNetKernels.All)
            foreach (var target in Targets)
                data.Add(NameOf(kernel), target);
        return data;
    }

    [Fact]
    public void TheKernelListIsComplete()
    {
        var names = LeNetKernels.All.Select(NameOf).ToList();
        Assert.True(names.Count >= 18, $"only {names.Count} kernels listed: {string.Join(", ", names)}");
        Assert.Equal(names.Count, names.Distinct().Count());
        // Every delegate the launch classes load has its method in the list (names as the library spells them).
        string[] expected =
        [
            "InputKernels.FromFloatImages", "InputKernels.FromMnistBytes", "InputKernels.Gather", "InputKernels.GatherDistorted",
            "ConvolutionKernels.Forward", "ConvolutionKernels.BackwardInput", "ConvolutionKernels.BackwardParameters",
            "SubsamplingKernels.Forward", "SubsamplingKernels.BackwardInput", "SubsamplingKernels.BackwardParameters",
            "FullyConnectedKernels.Forward", "FullyConnectedKernels.BackwardInput", "FullyConnectedKernels.BackwardParameters",
            "Squash.Backward", "SoftmaxKernels.Forward", "SoftmaxKernels.CrossEntropyBackward", "SoftmaxKernels.AccumulateStatistics",
            "RbfKernels.Forward", "RbfKernels.MapBackward",
            "OptimizerKernels.Sgd", "OptimizerKernels.Adam", "OptimizerKernels.Sdlm", "OptimizerKernels.Accumulate",
            "FusedKernels.C1S2FromFloats", "FusedKernels.C1S2FromBytes", "FusedKernels.C3S4", "FusedKernels.C5F6Output",
            "FusedKernels.C1S2SquashedFromFloats", "FusedKernels.C1S2SquashedFromBytes", "FusedKernels.C3S4Squashed",
        ];
        Assert.Equal(expected.Order(), names.Order());
        // One loaded delegate per kernel, each in its kernel file's launches; LeNetKernels itself loads none.
        Assert.DoesNotContain(typeof(LeNetKernels).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic),
            f => typeof(Delegate).IsAssignableFrom(f.FieldType));
        Type[] loaders = [typeof(InputLaunches), typeof(ConvolutionLaunches), typeof(SubsamplingLaunches), typeof(FullyConnectedLaunches),
            typeof(SquashLaunches), typeof(SoftmaxLaunches), typeof(RbfLaunches), typeof(OptimizerLaunches), typeof(FusedLaunches)];
        const System.Reflection.BindingFlags instance =
            System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic;
        static bool LoadsAKernel(Type field) => typeof(Delegate).IsAssignableFrom(field) ||
            field.IsGenericType && field.GetGenericTypeDefinition() == typeof(Lazy<>) && typeof(Delegate).IsAssignableFrom(field.GetGenericArguments()[0]);
        Assert.Equal(names.Count, loaders.Sum(t => t.GetFields(instance).Count(f => LoadsAKernel(f.FieldType))));
        // Exactly the fused kernels are explicitly grouped, and they take no index parameter.
        Assert.Equal(expected.Where(n => n.StartsWith("FusedKernels.")).Order(),
            LeNetKernels.All.Where(LeNetKernels.IsExplicitlyGrouped).Select(NameOf).Order());
        Assert.All(LeNetKernels.All.Where(LeNetKernels.IsExplicitlyGrouped),
            m => Assert.NotEqual(typeof(Index1D), m.GetParameters()[0].ParameterType));
        Assert.All(LeNetKernels.All, m => Assert.True(m.IsStatic && m.ReturnType == typeof(void), NameOf(m)));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CompilesOffline(string kernel, string target)
    {
        var compiled = backends.Compile(Kernel(kernel), target);
        if (compiled is PTXCompiledKernel ptx)
        {
            var arch = OfflineBackends.Cuda.Single(c => c.Name == target);
            Assert.Contains(".entry", ptx.PTXAssembly);
            // ILGPU targets the lowest architecture (≤ the requested one) that has every capability it needs:
            // sm_61 stays sm_61, sm_90 becomes sm_80.
            var emitted = new CudaCapabilityContext(arch.Architecture).TargetArchitecture;
            Assert.True(emitted <= arch.Architecture);
            Assert.Contains($".target sm_{emitted.Major}{emitted.Minor}", ptx.PTXAssembly);
            Assert.Contains($".version {arch.Isa.Major}.{arch.Isa.Minor}", ptx.PTXAssembly);
        }
        else
        {
            var cl = Assert.IsType<CLCompiledKernel>(compiled);
            Assert.Contains("kernel", cl.Source);
            Assert.Equal(CLCVersion.CL20, cl.CVersion);
        }
    }

    /// <summary>
    /// Kernels that squash must not use the hardware's approximate tanh: PTX <c>tanh.approx.f32</c> has a relative
    /// error near 2^-11 (NVIDIA PTX ISA), far above the 1e-5 every kernel must meet against the float64 reference.
    /// ILGPU.Algorithms maps <c>XMath.Tanh(float)</c> to that instruction from sm_75 on.
    /// </summary>
    [Theory]
    [InlineData("ConvolutionKernels.Forward")]
    [InlineData("SubsamplingKernels.Forward")]
    [InlineData("FullyConnectedKernels.Forward")]
    [InlineData("FusedKernels.C1S2FromFloats")]
    [InlineData("FusedKernels.C1S2FromBytes")]
    [InlineData("FusedKernels.C3S4")]
    [InlineData("FusedKernels.C5F6Output")]
    public void SquashingKernelsUseNoApproximateTanhOnSm90(string kernel)
    {
        var ptx = Assert.IsType<PTXCompiledKernel>(backends.Compile(Kernel(kernel), "ptx-sm_90")).PTXAssembly;
        Assert.False(ptx.Contains("tanh.approx"),
            $"{kernel} for sm_90 computes the scaled tanh with tanh.approx.f32 (relative error ~2^-11 > 1e-5): " +
            "Squash.Apply calls XMath.Tanh, which ILGPU.Algorithms lowers to that instruction from sm_75 on");
    }

    public static TheoryData<string, string> FusedCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var kernel in LeNetKernels.All.Where(LeNetKernels.IsExplicitlyGrouped))
            foreach (var target in Targets)
                data.Add(NameOf(kernel), target);
        return data;
    }

    /// <summary>
    /// The fused kernels really stage in shared memory and synchronise their groups on every target, fit the 48 KB
    /// of static shared memory a CUDA block may have (OpenCL: local memory, 48 KB on NVIDIA), and use no float64:
    /// OpenCL devices may lack it, and a stray double (an unsigned-to-float conversion in IL, a double literal)
    /// would also run at a fraction of float speed on most GPUs.
    /// </summary>
    [Theory]
    [MemberData(nameof(FusedCases))]
    public void FusedKernelsUseSharedMemoryAndBarriersAndNoFloat64(string kernel, string target)
    {
        var compiled = backends.Compile(Kernel(kernel), target);
        if (compiled is PTXCompiledKernel ptx)
        {
            string code = ptx.PTXAssembly;
            Assert.Contains(".shared", code);
            Assert.Contains("bar.sync", code);
            Assert.DoesNotContain(".f64", code);
            var shared = System.Text.RegularExpressions.Regex.Matches(code, @"\.shared\s+(?:\.align\s+\d+\s+)?\.\w+\s+\S+\[(\d+)\]")
                .Sum(m => long.Parse(m.Groups[1].Value));
            Assert.True(shared is > 0 and <= 48 * 1024, $"{kernel}: {shared} bytes of static shared memory");
        }
        else
        {
            string code = Assert.IsType<CLCompiledKernel>(compiled).Source;
            Assert.Contains("local", code);
            Assert.Contains("barrier", code);
            Assert.DoesNotContain("double", code);
        }
    }
}
