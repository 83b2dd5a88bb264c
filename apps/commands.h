// The glmv subcommands. Each takes the whole argv (argv[1] is its name) and returns the exit status.
#pragma once

namespace glmv::app {

int RunInfo(int argc, char** argv);
int RunGenerate(int argc, char** argv);
int RunCheckGolden(int argc, char** argv);
int RunChat(int argc, char** argv);
int RunTokenize(int argc, char** argv);
int RunDetokenize(int argc, char** argv);
int RunPreprocess(int argc, char** argv);
int RunSynth(int argc, char** argv);
int RunConvert(int argc, char** argv);
int RunInspect(int argc, char** argv);
int RunCompare(int argc, char** argv);
int RunServe(int argc, char** argv);

}  // namespace glmv::app
