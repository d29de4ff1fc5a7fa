/* Loads a model through the installed library and prints its first input's name: enough to
 * prove that the header, the library and its dependencies are found and link. */
#include <cnnrun.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    cnnrun_model *model = NULL;
    cnnrun_status *st = cnnrun_model_load(argv[1], &model);
    if (st) {
        fprintf(stderr, "%s\n", cnnrun_status_message(st));
        cnnrun_status_free(st);
        return 1;
    }
    cnnrun_value_info info;
    st = cnnrun_model_input_info(model, 0, &info);
    if (!st) printf("cnnrun %s: input '%s'\n", cnnrun_version(), info.name);
    cnnrun_status_free(st);
    cnnrun_model_free(model);
    return st ? 1 : 0;
}
