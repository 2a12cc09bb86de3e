using System.Runtime.InteropServices;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Ilgpu;

/// <summary>
/// Where the GPU driver libraries are looked for. ILGPU 1.5.3 imports the CUDA driver as "cuda" and OpenCL as
/// "OpenCL" on Linux (its CudaAPI.xml and CLAPI.xml), which .NET expands to <c>libcuda.so</c> and
/// <c>libOpenCL.so</c>: the unversioned names that only the development packages install. A machine with only the
/// driver has <c>libcuda.so.1</c> (and the ICD loader <c>libOpenCL.so.1</c>), which .NET never tries, so ILGPU
/// would find no device there. <see cref="Register"/> gives ILGPU's assembly a resolver that tries the unversioned
/// name first, then the soname.
/// </summary>
public static class DriverLibraries
{
    /// <summary>ILGPU's import names on Linux.</summary>
    public const string CudaImport = "cuda", OpenCLImport = "OpenCL";

    /// <summary>The file names tried, in order, for one of ILGPU's import names; empty for any other import.</summary>
    public static IReadOnlyList<string> CandidatesFor(string importName) => importName switch
    {
        CudaImport => ["libcuda.so", "libcuda.so.1"],
        OpenCLImport => ["libOpenCL.so", "libOpenCL.so.1"],
        _ => [],
    };

    /// <summary>Loads a library by file name; false when it cannot be loaded.</summary>
    public delegate bool Loader(string fileName, out IntPtr handle);

    /// <summary>
    /// The first of <see cref="CandidatesFor"/> that <paramref name="load"/> opens; <see cref="IntPtr.Zero"/> (the
    /// runtime's own search) for other imports or when none opens.
    /// </summary>
    public static IntPtr Resolve(string importName, Loader load)
    {
        foreach (var candidate in CandidatesFor(importName))
            if (load(candidate, out var handle)) return handle;
        return IntPtr.Zero;
    }

    private static int registered;

    /// <summary>
    /// Sets the resolver on ILGPU's assembly, once per process, on Linux, before any ILGPU context is built. Not on
    /// WSL, where ILGPU sets its own (for /usr/lib/wsl/lib) and an assembly takes only one resolver.
    /// </summary>
    public static void Register()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref registered, 1) == 1 || IsWsl()) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(ILGPU.Context).Assembly, (name, assembly, searchPath) =>
                Resolve(name, (string file, out IntPtr handle) => NativeLibrary.TryLoad(file, assembly, searchPath, out handle)));
        }
        catch (InvalidOperationException)
        {
            // Another resolver was set first; ILGPU then loads the drivers under its own names.
        }
    }

    private static bool IsWsl()
    {
        try
        {
            return File.ReadAllText("/proc/version").Contains("microsoft", StringComparison.OrdinalIgnoreCase)
                && Directory.Exists("/usr/lib/wsl/lib");
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
