using System.CommandLine;
using LeNet.Gpu.Cli;
using LeNet.Gpu.Cli.Commands;

// `lenet`: exit 0 on success, 1 on failure, 2 on bad usage; errors are one line on stderr. Output that cannot be
// written (a closed or full stream) is dropped and makes a success exit 1; a stdout whose reader went away, 141.
ConsoleStreams.Install();
var root = new RootCommand("LeNet-5 (LeCun et al., 1998) on CUDA, OpenCL or the CPU: train, evaluate, predict, visualize, benchmark, export, serve.");
foreach (var command in new[]
{
    DevicesCommand.Create(), SummaryCommand.Create(), DataCommand.Create(), TrainCommand.Create(),
    EvalCommand.Create(), PredictCommand.Create(), VisualizeCommand.Create(), BenchCommand.Create(),
    ExportCommand.Create(), ServeCommand.Create(),
})
    root.Subcommands.Add(command);
Numbers.MakeStrict(root);

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    // One line: the most specific message first (an unknown word explains a missing command).
    var messages = parse.Errors.Select(e => e.Message.TrimEnd('.')).Reverse();
    Console.Error.WriteLine($"lenet: {Common.Shown(string.Join("; ", messages))} (see 'lenet --help')");
    return ConsoleStreams.ExitCode(ExitCodes.Usage);
}
return ConsoleStreams.ExitCode(parse.Invoke(new InvocationConfiguration
{
    EnableDefaultExceptionHandler = false,
    // --help and --version write through Console.Out, like everything else.
    Output = Console.Out, Error = Console.Error,
}));
