using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Cli;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Ilgpu;

/// <summary>
/// Finding the GPU drivers under the names a driver-only machine has (libcuda.so.1, libOpenCL.so.1), and saying
/// which library was looked for and what failed when a GPU kind is absent.
/// </summary>
public sealed class DriverLibrariesTests
{
    [Fact]
    public void TheUnversionedNameIsTriedFirstThenTheSoname()
    {
        Assert.Equal(["libcuda.so", "libcuda.so.1"], DriverLibraries.CandidatesFor("cuda"));
        Assert.Equal(["libOpenCL.so", "libOpenCL.so.1"], DriverLibraries.CandidatesFor("OpenCL"));
        Assert.Empty(DriverLibraries.CandidatesFor("cublas"));
        Assert.Empty(DriverLibraries.CandidatesFor("nvcuda"));
    }

    /// <summary>A loader that opens only <paramref name="present"/> and records what it was asked for.</summary>
    private static DriverLibraries.Loader FakeLoader(List<string> asked, params string[] present) =>
        (string file, out IntPtr handle) =>
        {
            asked.Add(file);
            int index = Array.IndexOf(present, file);
            handle = index < 0 ? IntPtr.Zero : 100 + index;
            return index >= 0;
        };

    [Fact]
    public void ADriverInstalledOnlyAsTheSonameIsFound()
    {
        var asked = new List<string>();
        Assert.Equal((IntPtr)100, DriverLibraries.Resolve("cuda", FakeLoader(asked, "libcuda.so.1")));
        Assert.Equal(["libcuda.so", "libcuda.so.1"], asked);
    }

    [Fact]
    public void TheUnversionedNameWinsWhenBothExist()
    {
        var asked = new List<string>();
        Assert.Equal((IntPtr)100, DriverLibraries.Resolve("OpenCL", FakeLoader(asked, "libOpenCL.so", "libOpenCL.so.1")));
        Assert.Equal(["libOpenCL.so"], asked);
    }

    [Fact]
    public void OtherImportsAndMissingDriversFallBackToTheRuntimesSearch()
    {
        var asked = new List<string>();
        Assert.Equal(IntPtr.Zero, DriverLibraries.Resolve("cublas", FakeLoader(asked, "libcublas.so")));
        Assert.Empty(asked);
        Assert.Equal(IntPtr.Zero, DriverLibraries.Resolve("cuda", FakeLoader(asked)));
        Assert.Equal(["libcuda.so", "libcuda.so.1"], asked);
    }

    [Fact]
    public void AFailedLookupNamesEveryCandidateAndTheLoadersError()
    {
        var (handle, name, failure) = DriverDiagnosis.Open("cuda", file => throw new DllNotFoundException(
            $"Unable to load shared library '{file}' or one of its dependencies. In order to help diagnose loading problems, " +
            $"consider using a tool like strace. If you're using glibc, consider setting the LD_DEBUG environment variable: \n{file}: cannot open shared object file: No such file or directory"));
        Assert.Equal(IntPtr.Zero, handle);
        Assert.Null(name);
        Assert.Equal("looked for libcuda.so, then libcuda.so.1: libcuda.so: cannot open shared object file: No such file or directory; " +
                     "libcuda.so.1: cannot open shared object file: No such file or directory", failure);
    }

    [Fact]
    public void TheFirstCandidateThatLoadsIsOpened()
    {
        var (handle, name, _) = DriverDiagnosis.Open("OpenCL", file => file == "libOpenCL.so.1" ? 7 : throw new DllNotFoundException(file));
        Assert.Equal((IntPtr)7, handle);
        Assert.Equal("libOpenCL.so.1", name);
    }

    private static bool Loads(string file)
    {
        if (!NativeLibrary.TryLoad(file, out var handle)) return false;
        NativeLibrary.Free(handle);
        return true;
    }

    [SkippableFact]
    public void WithoutACudaDriverTheErrorNamesTheLibrariesLookedFor()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the candidates are Linux file names");
        Skip.If(Loads("libcuda.so") || Loads("libcuda.so.1"), "a CUDA driver library is installed here");
        var e = Assert.Throws<DeviceNotFoundException>(() => { using var _ = LeNetAccelerator.Create(DeviceKind.Cuda); });
        Assert.StartsWith("no cuda device found: the NVIDIA driver library was not found (looked for libcuda.so, then libcuda.so.1: libcuda.so: ", e.Message);
        Assert.Contains("libcuda.so.1: ", e.Message);
        Assert.Contains("; present: ", e.Message);
        Assert.Equal(e.Reason, DriverDiagnosis.Explain(DeviceKind.Cuda));
    }

    [SkippableFact]
    public void TheOpenClReasonSaysHowFarItGot()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the candidates are Linux file names");
        Skip.If(Devices.Has(DeviceKind.OpenCL), "an OpenCL device is present here");
        string reason = DriverDiagnosis.Explain(DeviceKind.OpenCL)!;
        if (!Loads("libOpenCL.so") && !Loads("libOpenCL.so.1"))
            Assert.StartsWith("the OpenCL ICD loader was not found (looked for libOpenCL.so, then libOpenCL.so.1: ", reason);
        else
            // The loader is there (here: Debian's ocl-icd-libopencl1, libOpenCL.so.1 alone): no platform, or devices ILGPU refuses.
            Assert.Matches(@"^libOpenCL\.so(\.1)? loaded(,| with \d+ platform)", reason);
    }

    /// <summary>
    /// End to end, without a GPU: a stand-in driver built here (cuInit answers CUDA_ERROR_NO_DEVICE and logs each
    /// call), installed only as libcuda.so.1 on LD_LIBRARY_PATH. ILGPU must load it (through the resolver: without it
    /// only the diagnosis would call cuInit), and `lenet devices` and `--device cuda` must name it and its error.
    /// </summary>
    [SkippableFact]
    public void AStandInDriverInstalledOnlyAsLibcudaSo1IsLoadedAndItsErrorReported()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux sonames");
        Skip.If(Loads("libcuda.so"), "a real libcuda.so is installed here and would be loaded first");
        using var folder = new LeNet.Gpu.Tests.Data.TempDirectory();
        string source = Path.Combine(folder.Path, "fake_cuda.c"), calls = Path.Combine(folder.Path, "calls.log");
        File.WriteAllText(source, """
            #include <stdio.h>
            #include <stdlib.h>
            static void log_call(const char *name) {
                const char *path = getenv("FAKE_CUDA_LOG");
                FILE *f = path ? fopen(path, "a") : NULL;
                if (f) { fprintf(f, "%s\n", name); fclose(f); }
            }
            int cuInit(unsigned int flags) { (void)flags; log_call("cuInit"); return 100; }
            int cuDeviceGetCount(int *count) { *count = 0; return 3; }
            int cuGetErrorName(int error, const char **name) { *name = error == 100 ? "CUDA_ERROR_NO_DEVICE" : "CUDA_ERROR_UNKNOWN"; return 0; }
            int cuGetErrorString(int error, const char **text) { *text = error == 100 ? "no CUDA-capable device is detected" : "unknown error"; return 0; }
            """);
        Process compile;
        try
        {
            compile = Process.Start(new ProcessStartInfo("cc", ["-shared", "-fPIC", "-o", Path.Combine(folder.Path, "libcuda.so.1"), source])
                { RedirectStandardError = true, UseShellExecute = false })!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SkipException($"no C compiler (cc) to build the stand-in driver: {e.Message}");
        }
        string compileErrors = compile.StandardError.ReadToEnd();
        compile.WaitForExit();
        Assert.True(compile.ExitCode == 0, compileErrors);

        var environment = new Dictionary<string, string?>
        {
            ["LD_LIBRARY_PATH"] = folder.Path, ["FAKE_CUDA_LOG"] = calls, ["LENET_DEVICE"] = null, ["NO_COLOR"] = "1",
        };
        var devices = LenetProcess.RunAssembly(LenetProcess.CliPath, folder.Path, environment, "devices", "--json");
        Assert.True(devices.ExitCode == 0, devices.Stderr);
        using var json = JsonDocument.Parse(devices.Stdout);
        var cuda = json.RootElement.GetProperty("unavailable").EnumerateArray().Single(u => u.GetProperty("kind").GetString() == "cuda");
        Assert.Equal("libcuda.so.1 loaded, but cuInit failed: 100 CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)",
            cuda.GetProperty("reason").GetString());
        // ILGPU called cuInit too (its own loading of the driver went through the resolver), then the diagnosis did.
        Assert.True(File.ReadAllLines(calls).Count(l => l == "cuInit") >= 2, "ILGPU never called the stand-in driver's cuInit: " + File.ReadAllText(calls));

        var eval = LenetProcess.RunAssembly(LenetProcess.CliPath, folder.Path, environment, "eval", "--device", "cuda");
        Assert.Equal(1, eval.ExitCode);
        Assert.Contains("no cuda device found: libcuda.so.1 loaded, but cuInit failed: 100 CUDA_ERROR_NO_DEVICE", eval.Stderr);
    }
}
