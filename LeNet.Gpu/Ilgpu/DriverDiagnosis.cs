using System.Runtime.InteropServices;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Ilgpu;

/// <summary>
/// Why ILGPU lists no CUDA or no OpenCL device, in one sentence: which driver library was looked for and what
/// failed (not found, its initialisation's error code, no device, or devices ILGPU refuses). ILGPU itself
/// swallows these errors while it lists devices.
/// </summary>
public static class DriverDiagnosis
{
    /// <summary>The reason for an absent kind; null for kinds that are not GPU drivers.</summary>
    public static string? Explain(DeviceKind kind) => kind switch
    {
        DeviceKind.Cuda => Cuda(),
        DeviceKind.OpenCL => OpenCL(),
        _ => null,
    };

    /// <summary>Opens the first candidate that loads; otherwise says what each failed with.</summary>
    internal static (IntPtr Handle, string? Name, string Failure) Open(string importName, Func<string, IntPtr>? load = null)
    {
        load ??= NativeLibrary.Load;
        var candidates = DriverLibraries.CandidatesFor(importName);
        var failures = new List<string>();
        foreach (var candidate in candidates)
        {
            try { return (load(candidate), candidate, ""); }
            catch (DllNotFoundException e) { failures.Add(LoaderError(candidate, e.Message)); }
            catch (BadImageFormatException e) { failures.Add($"{candidate}: {e.Message}"); }
        }
        return (IntPtr.Zero, null, $"looked for {string.Join(", then ", candidates)}: " + string.Join("; ", failures));
    }

    /// <summary>The loader's own words (dlerror) from .NET's long DllNotFoundException message.</summary>
    internal static string LoaderError(string candidate, string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var own = lines.FirstOrDefault(l => l.StartsWith(candidate + ":", StringComparison.Ordinal) || l.Contains("cannot open shared object"))
            ?? lines.LastOrDefault() ?? message;
        return own.StartsWith(candidate + ":", StringComparison.Ordinal) ? own : $"{candidate}: {own}";
    }

    private static unsafe string Cuda()
    {
        if (!OperatingSystem.IsLinux()) return "looked for the NVIDIA driver (nvcuda); ILGPU found no device";
        var (handle, name, failure) = Open(DriverLibraries.CudaImport);
        if (handle == IntPtr.Zero) return $"the NVIDIA driver library was not found ({failure})";
        try
        {
            var cuInit = (delegate* unmanaged<uint, int>)NativeLibrary.GetExport(handle, "cuInit");
            int status = cuInit(0);
            if (status != 0) return $"{name} loaded, but cuInit failed: {CudaError(handle, status)}";
            int count = 0;
            if (NativeLibrary.TryGetExport(handle, "cuDeviceGetCount", out var getCount))
            {
                status = ((delegate* unmanaged<int*, int>)getCount)(&count);
                if (status != 0) return $"{name} loaded, but cuDeviceGetCount failed: {CudaError(handle, status)}";
                if (count == 0) return $"{name} loaded and initialised, but it reports no CUDA device";
            }
            // The driver works and sees devices: ILGPU refuses them (an architecture or PTX ISA it does not know).
            var refused = CudaDevice.GetDevices(_ => true).OfType<CudaDevice>()
                .Select(d => $"{d.Name} (compute {d.Architecture?.ToString() ?? "unknown to ILGPU"}, PTX ISA {d.InstructionSet?.ToString() ?? "unknown to ILGPU"}, driver {d.DriverVersion})")
                .ToList();
            return refused.Count > 0
                ? $"{name} loaded and sees {count} device(s), but ILGPU does not support them: {string.Join("; ", refused)}"
                : $"{name} loaded and sees {count} device(s), but ILGPU could not open the driver (is another resolver or an old ILGPU in use?)";
        }
        catch (EntryPointNotFoundException e)
        {
            return $"{name} loaded, but it is not a CUDA driver: {e.Message}";
        }
    }

    private static unsafe string CudaError(IntPtr handle, int status)
    {
        string text = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (NativeLibrary.TryGetExport(handle, "cuGetErrorName", out var getName))
        {
            byte* p = null;
            if (((delegate* unmanaged<int, byte**, int>)getName)(status, &p) == 0 && p != null)
                text += " " + Marshal.PtrToStringUTF8((IntPtr)p);
        }
        if (NativeLibrary.TryGetExport(handle, "cuGetErrorString", out var getString))
        {
            byte* p = null;
            if (((delegate* unmanaged<int, byte**, int>)getString)(status, &p) == 0 && p != null)
                text += $" ({Marshal.PtrToStringUTF8((IntPtr)p)})";
        }
        return text;
    }

    private const int ClPlatformNotFound = -1001; // CL_PLATFORM_NOT_FOUND_KHR: the ICD loader found no vendor (ICD) file

    private static unsafe string OpenCL()
    {
        if (!OperatingSystem.IsLinux()) return "looked for the OpenCL loader (opencl); ILGPU found no device";
        var (handle, name, failure) = Open(DriverLibraries.OpenCLImport);
        if (handle == IntPtr.Zero) return $"the OpenCL ICD loader was not found ({failure})";
        try
        {
            var getPlatforms = (delegate* unmanaged<uint, IntPtr*, uint*, int>)NativeLibrary.GetExport(handle, "clGetPlatformIDs");
            uint platforms = 0;
            int status = getPlatforms(0, null, &platforms);
            if (status == ClPlatformNotFound || (status == 0 && platforms == 0))
                return $"{name} loaded, but no OpenCL platform is installed (no ICD file in /etc/OpenCL/vendors; clGetPlatformIDs: {status})";
            if (status != 0) return $"{name} loaded, but clGetPlatformIDs failed: {status}";
            var refused = CLDevice.GetDevices(_ => true).OfType<CLDevice>()
                .Select(d => $"{d.Name} ({d.PlatformName}): OpenCL C {d.CLStdVersion}, generic address space {(d.Capabilities.GenericAddressSpace ? "yes" : "no")}")
                .ToList();
            return refused.Count > 0
                ? $"{name} loaded with {platforms} platform(s), but ILGPU needs OpenCL C 2.0 with the generic address space: {string.Join("; ", refused)}"
                : $"{name} loaded with {platforms} platform(s), but they list no device ILGPU can open";
        }
        catch (EntryPointNotFoundException e)
        {
            return $"{name} loaded, but it is not an OpenCL loader: {e.Message}";
        }
    }
}
