using System.CommandLine;
using LeNet.Gpu.Engine;
using Spectre.Console;

namespace LeNet.Gpu.Cli.Commands;

public static class DevicesCommand
{
    public static Command Create()
    {
        var json = Common.Json();
        var command = new Command("devices", "List the accelerators found and the one auto picks") { json };
        command.SetAction(parse => Common.Run(() =>
        {
            var devices = Engines.List();
            // A bad LENET_DEVICE makes every other command fail; here, where one looks to fix it, the devices are
            // still listed and the variable's problem said, with no auto choice.
            DeviceDescription? auto = null;
            string? variableProblem = null;
            try { auto = Engines.AutoChoice(); }
            catch (ArgumentException e) { variableProblem = e.Message; }
            // For each GPU kind with no device: which driver library was looked for and what failed.
            var unavailable = new[] { DeviceKind.Cuda, DeviceKind.OpenCL }
                .Where(kind => devices.All(d => d.Kind != kind))
                .Select(kind => (Kind: kind, Reason: Engines.WhyNone(kind)!))
                .ToList();
            if (parse.GetValue(json))
            {
                Common.WriteJson(new
                {
                    devices = devices.Select(d => new
                    {
                        kind = d.Kind.ToName(), name = d.Name, type = d.Processor.ToName(), memory_bytes = d.MemoryBytes,
                        warp_size = d.WarpSize, max_group_size = d.MaxGroupSize, auto = d == auto,
                        not_picked = Engines.WhyNotPicked(d, auto),
                    }),
                    auto = auto?.Kind.ToName(),
                    lenet_device_error = variableProblem,
                    unavailable = unavailable.Select(u => new { kind = u.Kind.ToName(), reason = u.Reason }),
                });
                return ExitCodes.Success;
            }
            var table = new Table().AddColumns("Kind", "Type", "Device", "Memory", "Warp", "Max group", "Auto");
            foreach (var d in devices)
                table.AddRow(d.Kind.ToName(), d.Processor.ToName(), Markup.Escape(d.Name), $"{d.MemoryBytes / (1024.0 * 1024 * 1024):0.0} GiB",
                    // ILGPU reports 0 for PoCL's CPU device; no launch size uses it.
                    d.WarpSize > 0 ? d.WarpSize.ToString() : "-", d.MaxGroupSize.ToString(), d == auto ? "[green]✓[/]" : "");
            AnsiConsole.Write(table);
            if (auto is not null)
                AnsiConsole.MarkupLine($"auto picks [bold]{auto.Kind.ToName()}[/]: {Markup.Escape(auto.Name)}");
            else
                Console.Error.WriteLine($"lenet: {Common.Shown(variableProblem!)}; auto picks nothing until it is fixed or unset");
            // Plain lines, never wrapped: Spectre wraps markup at 80 columns when output is piped, which would split
            // one reason over several lines for whoever greps a log.
            foreach (var d in devices)
                if (Engines.WhyNotPicked(d, auto) is { } why)
                    Console.Out.WriteLine($"not picked: {d.Kind.ToName()} ({d.Name}): {why}");
            foreach (var (kind, reason) in unavailable)
                Console.Out.WriteLine($"no {kind.ToName()} device: {reason}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
