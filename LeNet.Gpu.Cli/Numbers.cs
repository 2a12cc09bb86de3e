using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace LeNet.Gpu.Cli;

/// <summary>
/// Numbers on the command line are read one way on every machine: a decimal point, no grouping, whatever the locale.
/// System.CommandLine's own reading allows thousands separators, so <c>--lr 0,5</c>, <c>0,,5</c> and <c>5,</c> all
/// meant 5; here they are refused (exit 2) naming the option and the value. <see cref="MakeStrict"/> installs this
/// reading on every numeric option of a command tree, so a new option cannot miss it.
/// </summary>
public static class Numbers
{
    private const NumberStyles Real = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;

    /// <summary>A real number as this tool writes it ("0.5", "-1e-3"), finite; null for anything else.</summary>
    public static float? ParseFloat(string text) =>
        float.TryParse(text, Real, CultureInfo.InvariantCulture, out float value) && float.IsFinite(value) ? value : null;

    public static double? ParseDouble(string text) =>
        double.TryParse(text, Real, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value) ? value : null;

    public static int? ParseInt(string text) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value) ? value : null;

    /// <summary>Gives every float, double and int option under <paramref name="command"/> the strict reading.</summary>
    public static void MakeStrict(Command command)
    {
        foreach (var option in command.Options)
        {
            switch (option)
            {
                case Option<float> o: o.CustomParser = r => One(r, o.Name, ParseFloat, ExpectedReal) ?? 0; break;
                case Option<float?> o: o.CustomParser = r => One(r, o.Name, ParseFloat, ExpectedReal); break;
                case Option<double> o: o.CustomParser = r => One(r, o.Name, ParseDouble, ExpectedReal) ?? 0; break;
                case Option<int> o: o.CustomParser = r => One(r, o.Name, ParseInt, ExpectedWhole) ?? 0; break;
                case Option<int[]> o: o.CustomParser = r => r.Tokens.Select(t => Check(r, o.Name, t.Value, ParseInt, ExpectedWhole) ?? 0).ToArray(); break;
            }
        }
        foreach (var subcommand in command.Subcommands) MakeStrict(subcommand);
    }

    private const string ExpectedReal = "a number (with a decimal point, no separators: 0.5, 1e-3)";
    private const string ExpectedWhole = "a whole number";

    private static T? One<T>(ArgumentResult result, string option, Func<string, T?> parse, string expected) where T : struct =>
        result.Tokens.Count == 0 ? null : Check(result, option, result.Tokens[^1].Value, parse, expected);

    private static T? Check<T>(ArgumentResult result, string option, string text, Func<string, T?> parse, string expected) where T : struct
    {
        if (parse(text) is { } value) return value;
        result.AddError($"{option}: '{text}' is not {expected}");
        return null;
    }
}
