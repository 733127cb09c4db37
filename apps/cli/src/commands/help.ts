import type { Command } from 'commander';

/**
 * `imgcache help [command]`, in place of commander's own: commander answers an unknown name
 * (`imgcache help bogus`) with the whole help on stderr and no word about the name. Here
 * it is a usage error (exit 2) that names it and lists the commands.
 */
export function registerHelp(program: Command): void {
  program.helpCommand(false);
  program
    .command('help [command]')
    .description('display help for command')
    .action((name: string | undefined) => {
      if (name === undefined) return program.help();
      const command = program.commands.find(
        (candidate) => candidate.name() === name || candidate.aliases().includes(name),
      );
      if (command !== undefined && command.name() !== 'help') return command.help();
      const names = program.commands.map((candidate) => candidate.name()).filter((candidate) => candidate !== 'help');
      program.error(`error: unknown command '${name}'; the commands are ${names.join(', ')}`, {
        code: 'commander.unknownCommand',
        exitCode: 2,
      });
    });
}
