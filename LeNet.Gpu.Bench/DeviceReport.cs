using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Bench;

/// <summary>
/// The driver probe of a GPU lease (<c>LeNet.Gpu.Bench --devices</c>): every engine found, ILGPU's own description of
/// each GPU (architecture, SMs, driver, memory), and for CUDA or OpenCL when absent, which driver library was looked
/// for and what failed. Exit 1 when <c>LENET_BENCH_DEVICES</c> names a GPU kind that is not there.
/// </summary>
public static class DeviceReport
{
    public static int Run()
    {
        DriverLibraries.Register();
        var engines = Engines.List();
        foreach (var d in engines) Console.WriteLine(d);
        foreach (var kind in new[] { DeviceKind.Cuda, DeviceKind.OpenCL })
            if (engines.All(d => d.Kind != kind))
                Console.WriteLine($"no {kind.ToName()} device: {DriverDiagnosis.Explain(kind)}");
        using (var context = Context.Create(builder => builder.Cuda().OpenCL()))
            foreach (var device in context.Devices.Where(d => d.AcceleratorType != AcceleratorType.CPU))
            {
                Console.WriteLine();
                device.PrintInformation(Console.Out);
            }
        var wanted = Devices.Wanted();
        var missing = wanted.Where(k => k is DeviceKind.Cuda or DeviceKind.OpenCL && engines.All(d => d.Kind != k)).ToList();
        foreach (var kind in missing) Console.Error.WriteLine($"--devices: {Devices.EnvironmentVariable} asks for {kind.ToName()}, which is not here");
        return missing.Count == 0 ? 0 : 1;
    }
}
