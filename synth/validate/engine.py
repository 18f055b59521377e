class Validator:
    def validate_fleet(self, clusters):
        return []
def format_problem(p):
    return str(p)
