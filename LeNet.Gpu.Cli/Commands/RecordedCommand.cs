using System.CommandLine;
using System.Globalization;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Cli.Commands;

/// <summary>
/// The command a trained model records: the arguments as given, then every setting that shapes the weights and was
/// left to a default (or to the recipe), written out with the value it took. A default that changes later then does
/// not change what the recorded command trains. Settings that do not apply are left out (momentum beside Adam, μ
/// beside SGD); a bare <c>--distort</c> gets its strengths.
/// </summary>
internal static class RecordedCommand
{
    public static string For(Command command, ParseResult parse, string[] arguments, TrainingOptions options, LeNetModel model)
    {
        bool Given(string name) => parse.GetResult(command.Options.Single(o => o.Name == name)) is { Implicit: false };
        var words = new List<string> { "lenet" };
        foreach (var argument in arguments)
        {
            words.Add(argument);
            if (argument == "--distort" && parse.GetResult(command.Options.Single(o => o.Name == "--distort")) is { Tokens.Count: 0 })
                words.Add(Strengths(options.Distortion!));
        }
        void Add(string name, string value)
        {
            if (Given(name)) return;
            words.Add(name);
            words.Add(value);
        }
        static string Number(float x) => x.ToString(CultureInfo.InvariantCulture);

        if (!Given("--dataset") && !Given("--data")) words.AddRange(["--dataset", "digits"]);
        Add("--epochs", options.Epochs.ToString(CultureInfo.InvariantCulture));
        Add("--batch-size", options.BatchSize.ToString(CultureInfo.InvariantCulture));
        Add("--optimizer", options.Optimizer.ToString().ToLowerInvariant());
        Add("--lr", Number(options.BaseLearningRate));
        Add("--schedule", options.Schedule.ToString().ToLowerInvariant());
        if (options.Optimizer == OptimizerKind.Sgd) Add("--momentum", Number(options.Momentum));
        Add("--weight-decay", Number(options.WeightDecay));
        Add("--seed", options.Seed.ToString(CultureInfo.InvariantCulture));
        Add("--init", options.Initialization.ToName());
        Add("--squashing", model.Squashing.ToName());
        Add("--validation", options.ValidationFraction.ToString(CultureInfo.InvariantCulture));
        Add("--output-layer", model.Output.ToName());
        Add("--convolutions", model.Convolutions.ToName());
        if (model.Output == OutputLayer.Rbf) Add("--map-j", Number(options.MapJ));
        if (options.Optimizer == OptimizerKind.Sdlm)
        {
            Add("--mu", Number(options.SdlmMu));
            Add("--mu-follows-rate", options.SdlmMuFollowsRate ? "true" : "false");
            Add("--hessian-every", options.SdlmInterval.ToString(CultureInfo.InvariantCulture));
        }
        return string.Join(' ', words);
    }

    private static string Strengths(Distortion d) =>
        string.Join(',', new[] { d.MaxShift, d.MaxScale, d.MaxSqueeze, d.MaxShear }.Select(x => x.ToString(CultureInfo.InvariantCulture)));
}
