using System.Diagnostics;
using Xunit;

namespace LeNet.Gpu.Tests.Bench;

/// <summary>
/// LeNet.Gpu.Bench/is-dotnet-assembly.sh, which pack-gpu.sh uses to keep .NET assemblies and drop Windows native
/// libraries: checked on real files of each kind, told apart here by System.Reflection.Metadata's PEReader.
/// </summary>
public sealed class IsDotnetAssemblyScriptTests
{
    private static bool ScriptSaysAssembly(string path)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(Support.Repository.Root, "LeNet.Gpu.Bench", "is-dotnet-assembly.sh"));
        start.ArgumentList.Add(path);
        using var process = Process.Start(start)!;
        process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode is 0 or 1, $"exit {process.ExitCode} for {path}: {error}");
        return process.ExitCode == 0;
    }

    /// <summary>The reference answer: a PE image with a CLI header (what the runtime itself requires to load it).</summary>
    private static bool HasCliHeader(string path)
    {
        using var stream = File.OpenRead(path);
        try
        {
            using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
            return pe.PEHeaders.CorHeader is not null;
        }
        catch (BadImageFormatException) { return false; }
    }

    public static TheoryData<string, string> Files()
    {
        string tests = AppContext.BaseDirectory, runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var data = new TheoryData<string, string>
        {
            { "our assembly (PE32, AnyCPU)", Path.Combine(tests, "LeNet.Gpu.dll") },
            { "a ReadyToRun runtime assembly (PE32+)", Path.Combine(runtime, "System.Private.CoreLib.dll") },
            { "a Linux native library (ELF)", Path.Combine(runtime, "libcoreclr.so") },
            { "not a binary", Path.Combine(Support.Repository.Root, "README.md") },
        };
        // Windows native libraries that NuGet packages copy into the build (ONNX Runtime, SkiaSharp).
        foreach (var dll in new[] { "runtimes/win-x64/native/onnxruntime.dll", "runtimes/win-arm64/native/libSkiaSharp.dll" })
            data.Add($"a Windows native library ({Path.GetFileName(dll)})", Path.Combine(tests, dll));
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void TellsAssembliesFromNativeLibraries(string kind, string path)
    {
        Assert.True(File.Exists(path), $"{kind}: {path} is missing from this build");
        Assert.Equal(HasCliHeader(path), ScriptSaysAssembly(path));
    }

    [Fact]
    public void TheCasesCoverBothAnswers()
    {
        var answers = Files().Select(row => HasCliHeader((string)row[1])).ToList();
        Assert.Contains(true, answers);
        Assert.Contains(false, answers);
    }
}
