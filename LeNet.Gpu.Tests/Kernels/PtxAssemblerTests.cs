using System.Globalization;
using System.Reflection;
using System.Text;
using ILGPU.Backends.PTX;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Kernels;

/// <summary>
/// Every kernel of <see cref="LeNetKernels.All"/>, compiled by ILGPU for sm_90 (H100/H200) and sm_80 (A100) at PTX ISA
/// 7.8 (the newest that Debian's ptxas 11.8 accepts), assembled by NVIDIA's own <c>ptxas -v</c>: no assembler
/// error, no register spill, no stack frame, static shared memory within the 48 KB a block may have. Writes the
/// per-kernel resource table (registers, shared memory, spills, theoretical occupancy at the launch's group size)
/// to TestResults/ptxas/ (or <c>$LENET_PTXAS_REPORT</c>) for kernels.md and CI. Skips where no ptxas runs
/// (<c>bash .ci/fetch-ptxas.sh</c> fetches one).
/// </summary>
public sealed class PtxAssemblerTests(OfflineBackends backends) : IClassFixture<OfflineBackends>
{
    private static string NameOf(MethodInfo m) => $"{m.DeclaringType!.Name}.{m.Name}";

    public static string ReportDirectory
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("LENET_PTXAS_REPORT");
            return string.IsNullOrWhiteSpace(path) ? Path.Combine(Repository.Root, "TestResults", "ptxas") : path;
        }
    }

    /// <summary>The group size a GPU launch uses: declared on a fused kernel, the occupancy-best one for auto-grouped kernels.</summary>
    private static (int Size, string Label) GroupOf(MethodInfo kernel, GpuLimits limits, PtxasFunction entry)
    {
        var declared = kernel.GetCustomAttribute<ExplicitlyGroupedKernelAttribute>()?.GroupSize ?? 0;
        if (declared > 0) return (declared, declared.ToString(CultureInfo.InvariantCulture));
        int best = limits.BestGroupSize(entry.Registers, entry.SharedBytes);
        return (best, LeNetKernels.IsExplicitlyGrouped(kernel) ? $"{best} (undeclared: best)" : $"auto ({best})");
    }

    [SkippableTheory]
    [InlineData("sm_90")]
    [InlineData("sm_80")]
    public void EveryKernelAssemblesWithoutSpillsStackOrExcessSharedMemory(string architecture)
    {
        var ptxas = PtxAssembler.Instance;
        Skip.If(ptxas is null, PtxAssembler.WhyAbsent);
        var (summary, failures, assembled) = AssembleAndReport(LeNetKernels.All,
            kernel => Assert.IsType<PTXCompiledKernel>(backends.Compile(kernel, "ptx-" + architecture)).PTXAssembly,
            ptxas!, architecture, ReportDirectory);
        Assert.True(failures.Count == 0, $"{summary}; {failures.Count} failures:\n" + string.Join("\n", failures));
        Assert.Equal(LeNetKernels.All.Count, assembled);
    }

    /// <summary>
    /// A kernel ILGPU cannot compile is one more failure, named, and the other kernels are still assembled: the
    /// one-line summary (which .ci/run prints) is written whatever fails.
    /// </summary>
    [SkippableFact]
    public void ACompileFailureIsReportedAndTheSummaryIsStillWritten()
    {
        var ptxas = PtxAssembler.Instance;
        Skip.If(ptxas is null, PtxAssembler.WhyAbsent);
        using var report = new LeNet.Gpu.Tests.Data.TempDirectory();
        var broken = LeNetKernels.All[0];
        var other = LeNetKernels.All[1];
        var (_, failures, assembled) = AssembleAndReport([broken, other],
            kernel => kernel == broken ? throw new NotSupportedException("no lowering for this instruction")
                : Assert.IsType<PTXCompiledKernel>(backends.Compile(kernel, "ptx-sm_90")).PTXAssembly,
            ptxas!, "sm_90", report.Path);
        Assert.Equal(1, assembled);
        Assert.Contains(failures, f => f.StartsWith(NameOf(broken)) && f.Contains("no lowering for this instruction"));
        Assert.Equal("ptxas sm_90: 1 kernels assembled, 0 spills, 1 failures\n", File.ReadAllText(Path.Combine(report.Path, "ptxas-sm_90.txt")));
    }

    /// <summary>
    /// Compiles each kernel with <paramref name="compilePtx"/>, assembles it with <c>ptxas -v</c> and checks its
    /// resources; writes the per-kernel table (ptxas-ARCH.md) and the one-line summary (ptxas-ARCH.txt) to
    /// <paramref name="reportDirectory"/> whatever fails. Returns the summary, every failure, and how many assembled.
    /// </summary>
    private static (string Summary, List<string> Failures, int Assembled) AssembleAndReport(IReadOnlyList<MethodInfo> kernels,
        Func<MethodInfo, string> compilePtx, PtxAssembler ptxas, string architecture, string reportDirectory)
    {
        var limits = GpuLimits.Of(architecture);
        var failures = new List<string>();
        var table = new StringBuilder()
            .AppendLine($"| Kernel | Group | Registers | Shared memory (B) | Spills st/ld (B) | Stack (B) | Groups/SM | Occupancy | Limited by |")
            .AppendLine("|---|---|---|---|---|---|---|---|---|");
        int assembled = 0, spills = 0;
        foreach (var kernel in kernels)
        {
            string name = NameOf(kernel);
            string ptx;
            // A compile failure is one kernel's failure: the others still run and the summary is still written.
            try { ptx = compilePtx(kernel); }
            catch (Exception e) { failures.Add($"{name}: ILGPU could not compile it: {e.GetType().Name}: {e.Message}"); continue; }
            if (!ptx.Contains(".version 7.8")) { failures.Add($"{name}: ILGPU emitted no PTX ISA 7.8 (.version 7.8)"); continue; }
            IReadOnlyList<PtxasFunction> functions;
            try { functions = ptxas.Assemble(ptx, architecture, name); }
            catch (InvalidOperationException e) { failures.Add(e.Message); continue; }
            var entry = functions.FirstOrDefault(f => f.IsEntry);
            if (entry is null) { failures.Add($"{name}: ptxas -v reported no entry function"); continue; }
            assembled++;
            foreach (var f in functions)
            {
                spills += f.SpillStoreBytes + f.SpillLoadBytes;
                if (f.SpillStoreBytes + f.SpillLoadBytes > 0)
                    failures.Add($"{name} ({f.Name}): {f.SpillStoreBytes} B spill stores, {f.SpillLoadBytes} B spill loads at {f.Registers} registers");
                if (f.StackFrameBytes > 0) failures.Add($"{name} ({f.Name}): {f.StackFrameBytes} B stack frame");
            }
            if (entry.SharedBytes > GpuLimits.StaticSharedPerGroup)
                failures.Add($"{name}: {entry.SharedBytes} B static shared memory, over the {GpuLimits.StaticSharedPerGroup} B a block may have");
            var (group, label) = GroupOf(kernel, limits, entry);
            var (groups, limitedBy) = limits.GroupsPerSm(entry.Registers, entry.SharedBytes, group);
            if (groups == 0) failures.Add($"{name}: cannot launch {group} threads per group at {entry.Registers} registers and {entry.SharedBytes} B shared memory");
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| `{name}` | {label} | {entry.Registers} | {entry.SharedBytes:N0} | {entry.SpillStoreBytes}/{entry.SpillLoadBytes} | {entry.StackFrameBytes} | {groups} | {limits.Occupancy(entry.Registers, entry.SharedBytes, group):P0} | {limitedBy} |"));
        }
        string summary = $"ptxas {architecture}: {assembled} kernels assembled, {spills} spills";
        Directory.CreateDirectory(reportDirectory);
        File.WriteAllText(Path.Combine(reportDirectory, $"ptxas-{architecture}.md"),
            $"{ptxas.Version}; PTX ISA 7.8 from ILGPU; `ptxas -arch={architecture} -v`; occupancy at {limits.SharedPerSm / 1024} KB shared memory per SM\n\n{table}");
        File.WriteAllText(Path.Combine(reportDirectory, $"ptxas-{architecture}.txt"),
            summary + (failures.Count > 0 ? $", {failures.Count} failures" : "") + "\n");
        return (summary, failures, assembled);
    }

    /// <summary>
    /// On a CUDA 12.9+ driver ILGPU emits PTX ISA 8.8, which this ptxas (ISA ≤ 7.8) rejects. With only its
    /// <c>.version</c> line set to 7.8, the ISA-8.8 PTX of every kernel assembles to the same registers, shared
    /// memory, spills and stack as the ISA-7.8 PTX: the table above holds for the code the lent GPU runs.
    /// </summary>
    [SkippableFact]
    public void TheDriversIsaAssemblesToTheSameResources()
    {
        var ptxas = PtxAssembler.Instance;
        Skip.If(ptxas is null, PtxAssembler.WhyAbsent);
        var differences = new List<string>();
        foreach (var kernel in LeNetKernels.All)
        {
            string name = NameOf(kernel);
            string isa78 = Assert.IsType<PTXCompiledKernel>(backends.Compile(kernel, "ptx-sm_90")).PTXAssembly;
            string isa88 = Assert.IsType<PTXCompiledKernel>(backends.Compile(kernel, "ptx-sm_90-isa88")).PTXAssembly;
            Assert.Contains(".version 8.8", isa88);
            if (ptxas!.MaxIsa < 88) isa88 = isa88.Replace(".version 8.8", ".version 7.8");
            var a = ptxas.Assemble(isa78, "sm_90", name + " (ISA 7.8)").Single(f => f.IsEntry);
            var b = ptxas.Assemble(isa88, "sm_90", name + " (ISA 8.8)").Single(f => f.IsEntry);
            if (a with { Name = "" } != b with { Name = "" }) differences.Add($"{name}: ISA 7.8 {a}, ISA 8.8 {b}");
        }
        Assert.True(differences.Count == 0, string.Join("\n", differences));
    }
}
